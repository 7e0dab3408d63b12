{#-
  The merge semantics of a current-state table, written once.

  Every event has a position: (commit timestamp, full load before CDC, file name, row in
  file). The current state of a key is its event with the greatest position; a delete
  leaves a tombstone (is_deleted, no document) so that an older event arriving later can
  neither overwrite a newer one nor bring a deleted document back. Comparing positions
  strictly makes re-applying an event a no-op, so replays and duplicate files are safe.
-#}

{% macro cdc_event_position(alias) -%}
  named_struct(
    'commit_ts', {{ alias }}.commit_ts,
    'is_cdc', {{ alias }}.is_cdc,
    'source_file', {{ alias }}.source_file,
    'source_row', {{ alias }}.source_row
  )
{%- endmacro %}

{% macro cdc_latest_change_per_key(changes) -%}
  {#- The last event of each key within a batch of changes, as a current-state row. -#}
  (
    select
      _id,
      dms_key_text,
      document,
      is_deleted,
      op,
      commit_ts,
      is_cdc,
      source_file,
      source_row,
      current_timestamp() as applied_at,
      '{{ invocation_id }}' as applied_by
    from (
      select
        *,
        row_number() over (
          partition by _id
          order by commit_ts desc, is_cdc desc, source_file desc, source_row desc
        ) as recency
      from {{ changes }}
    ) as ranked
    where recency = 1
  )
{%- endmacro %}

{% macro cdc_merge_sql(target_relation, latest_changes_sql) -%}
  merge into {{ target_relation }} as current_row
  using ({{ latest_changes_sql }}) as change
    on current_row._id = change._id
  when matched and {{ cdc_event_position('change') }} > {{ cdc_event_position('current_row') }}
    then update set *
  when not matched
    then insert *
{%- endmacro %}

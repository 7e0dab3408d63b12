{#-
  The apply's accounting: rows landed = applied + superseded + quarantined, each term
  counted on its own, so that the identity is a check that fails when a row goes missing
  (two keys merged into one, a merge that drops a row), not a definition.

    landed      rows in the readable new files (their Parquet footers)
    quarantined rows of those files kept in dms_quarantine by this run
    superseded  valid rows that lost to a newer position for the same key: within the
                batch (not the latest event of its key), or against the table (the
                table's row for the key is at this event's position or a newer one,
                written by an earlier run: a replay, or a late older event)
    applied     rows that are now the table's row of their key, written by this run

  The batch side is counted from the checked rows (cdc_checked_rows), and `landed` from
  the files' footers, so a row lost between the files and the merge breaks the identity.

  A batch whose numbers do not balance is recorded as they are (so the report shows the
  difference) and fails the run, naming the numbers.
-#}

{% macro cdc_log_apply(source_node, files, target_relation) %}
  {%- set checked = cdc_run_relation(source_node, 'checked_rows') -%}
  {%- set quarantine = cdc_bookkeeping_relation('dms_quarantine') -%}
  {%- set outcome_ctes -%}
    with events as (
      select _id, {{ cdc_event_position('changes') }} as position, 'batch' as side
      from ({{ dms_changes('(select * from ' ~ checked ~ ' where quarantine_reason is null)') }}) as changes
      union all
      -- Iceberg skips every data file an earlier run wrote: these are few files to read
      select _id, {{ cdc_event_position('current_row') }}, 'written'
      from {{ target_relation }} as current_row
      where applied_by = '{{ invocation_id }}'
    ),

    -- per key: its latest position in the batch (cdc_event_position's order) and the row
    -- this run wrote for it; one aggregation, no join
    outcome as (
      select
        _id,
        count_if(side = 'batch') as batch_rows,
        max(if(side = 'batch', position, null)) as position,
        count_if(side = 'written') as written_rows,
        max(if(side = 'written', position, null)) as written_position
      from events
      group by _id
    )
  {%- endset -%}
  {%- set query -%}
    {{ outcome_ctes }}

    select
      coalesce(sum(batch_rows), 0) as valid_rows,
      count_if(batch_rows > 0) as latest_rows,
      count_if(batch_rows > 0 and written_position = position) as applied,
      coalesce(sum(written_rows), 0) as written,
      (
        select count(*) from {{ quarantine }}
        where
          invocation_id = '{{ invocation_id }}'
          and source_name = {{ sql_string(source_node.unique_id) }}
          and source_row is not null
      ) as quarantined
    from outcome
  {%- endset -%}
  {%- set valid, latest, applied, written, quarantined = run_query(query).rows[0] -%}
  {#- The latest rows not applied must have lost to a row an earlier run wrote at their
      position or a newer one: only their keys meet the whole table, and only if any. -#}
  {%- set superseded_by_table = 0 -%}
  {%- if latest > applied -%}
    {%- set lost_query -%}
      {{ outcome_ctes }},

      not_applied as (
        select _id, position from outcome where batch_rows > 0 and not coalesce(written_position = position, false)
      )

      select /*+ BROADCAST(not_applied) */ count(*)
      from not_applied
      inner join {{ target_relation }} as current_row on not_applied._id = current_row._id
      where
        current_row.applied_by <> '{{ invocation_id }}'
        and {{ cdc_event_position('current_row') }} >= not_applied.position
    {%- endset -%}
    {%- set superseded_by_table = run_query(lost_query).rows[0][0] -%}
  {%- endif -%}
  {%- set landed = files | sum(attribute='rows') -%}
  {%- set superseded = (valid - latest) + superseded_by_table -%}
  {%- set unaccounted = landed - applied - superseded - quarantined -%}
  {%- set files_quarantined = files | selectattr('problem') | list | length -%}
  {% call statement('cdc_log_apply') -%}
    insert into {{ cdc_bookkeeping_relation('dms_apply_log') }}
    values (
      {{ sql_string(source_node.unique_id) }}, {{ sql_string(target_relation) }}, '{{ invocation_id }}',
      {{ files | length }}, {{ files_quarantined }},
      {{ landed }}, {{ applied }}, {{ superseded }}, {{ quarantined }}, current_timestamp()
    )
  {%- endcall %}
  {{ log(target_relation ~ ": " ~ landed ~ " row(s) landed = " ~ applied ~ " applied + "
         ~ superseded ~ " superseded + " ~ quarantined ~ " quarantined; "
         ~ files_quarantined ~ " file(s) quarantined", info=true) }}
  {%- if unaccounted != 0 or written != applied -%}
    {% do cdc_release_run_relations(source_node) %}
    {{ exceptions.raise_compiler_error(
        target_relation ~ ": the apply does not balance: " ~ landed ~ " row(s) landed, but "
        ~ applied ~ " applied + " ~ superseded ~ " superseded + " ~ quarantined ~ " quarantined = "
        ~ (applied + superseded + quarantined) ~ " (" ~ unaccounted ~ " row(s) unaccounted for); "
        ~ written ~ " row(s) written by this run for " ~ applied ~ " applied. "
        ~ "The files stay recorded as applied and the numbers are in dms_apply_log; rebuild the table "
        ~ "with --full-refresh once the cause is fixed.") }}
  {%- endif %}
{% endmacro %}

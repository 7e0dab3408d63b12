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
    with valid as (
      select * from {{ checked }} where quarantine_reason is null
    ),

    -- the latest position of each key in the batch, by cdc_event_position's order
    latest as (
      select _id, max({{ cdc_event_position('changes') }}) as position
      from ({{ dms_changes('valid') }}) as changes
      group by _id
    ),

    -- Iceberg skips every data file an earlier run wrote: these are few files to read
    written as (
      select _id, {{ cdc_event_position('current_row') }} as position
      from {{ target_relation }} as current_row
      where applied_by = '{{ invocation_id }}'
    ),

    outcome as (
      select
        latest._id,
        latest.position,
        written.position is not null and written.position = latest.position as is_applied
      from latest
      left join written on latest._id = written._id
    )
  {%- endset -%}
  {%- set query -%}
    {{ outcome_ctes }},

    batch as (
      select count(*) as latest_rows, count_if(is_applied) as applied from outcome
    )

    select
      (select count(*) from valid) as valid_rows,
      batch.latest_rows,
      batch.applied,
      (select count(*) from written) as written,
      (
        select count(*) from {{ quarantine }}
        where
          invocation_id = '{{ invocation_id }}'
          and source_name = {{ sql_string(source_node.unique_id) }}
          and source_row is not null
      ) as quarantined
    from batch
  {%- endset -%}
  {%- set valid, latest, applied, written, quarantined = run_query(query).rows[0] -%}
  {#- The latest rows not applied must have lost to a row an earlier run wrote at their
      position or a newer one: only their keys meet the whole table, and only if any. -#}
  {%- set superseded_by_table = 0 -%}
  {%- if latest > applied -%}
    {%- set lost_query -%}
      {{ outcome_ctes }},

      not_applied as (
        select _id, position from outcome where not is_applied
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
    {% do cdc_release_run_relations(source_node, empty_scratch=true) %}
    {{ exceptions.raise_compiler_error(
        target_relation ~ ": the apply does not balance: " ~ landed ~ " row(s) landed, but "
        ~ applied ~ " applied + " ~ superseded ~ " superseded + " ~ quarantined ~ " quarantined = "
        ~ (applied + superseded + quarantined) ~ " (" ~ unaccounted ~ " row(s) unaccounted for); "
        ~ written ~ " row(s) written by this run for " ~ applied ~ " applied. "
        ~ "The files stay recorded as applied and the numbers are in dms_apply_log; rebuild the table "
        ~ "with --full-refresh once the cause is fixed.") }}
  {%- endif %}
{% endmacro %}

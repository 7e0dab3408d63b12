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

  A batch whose numbers do not balance is recorded as they are (so the report shows the
  difference) and fails the run, naming the numbers.
-#}

{% macro cdc_log_apply(source_node, files, target_relation, latest_changes_sql) %}
  {%- set staged = 'global_temp.' ~ sql_identifier(source_node.identifier) -%}
  {%- set quarantine = cdc_bookkeeping_relation('dms_quarantine') -%}
  {%- set query -%}
    with latest as (
      {{ latest_changes_sql }}
    ),

    outcome as (
      select
        latest._id,
        current_row._id is not null
        and current_row.applied_by = '{{ invocation_id }}'
        and {{ cdc_event_position('current_row') }} = {{ cdc_event_position('latest') }} as is_applied,
        current_row._id is not null
        and current_row.applied_by <> '{{ invocation_id }}'
        and {{ cdc_event_position('current_row') }} >= {{ cdc_event_position('latest') }} as lost_to_table
      from latest
      left join {{ target_relation }} as current_row on latest._id = current_row._id
    )

    select
      (select count(*) from {{ staged }}) as valid_rows,
      (select count(*) from latest) as latest_rows,
      (select count_if(is_applied) from outcome) as applied,
      (select count_if(lost_to_table) from outcome) as superseded_by_table,
      (select count(*) from {{ target_relation }} where applied_by = '{{ invocation_id }}') as written,
      (
        select count(*) from {{ quarantine }}
        where
          invocation_id = '{{ invocation_id }}'
          and source_name = {{ sql_string(source_node.unique_id) }}
          and source_row is not null
      ) as quarantined
  {%- endset -%}
  {%- set counted = run_query(query).rows[0] -%}
  {%- set valid, latest, applied, superseded_by_table, written, quarantined = counted -%}
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
    {{ exceptions.raise_compiler_error(
        target_relation ~ ": the apply does not balance: " ~ landed ~ " row(s) landed, but "
        ~ applied ~ " applied + " ~ superseded ~ " superseded + " ~ quarantined ~ " quarantined = "
        ~ (applied + superseded + quarantined) ~ " (" ~ unaccounted ~ " row(s) unaccounted for); "
        ~ written ~ " row(s) written by this run for " ~ applied ~ " applied. "
        ~ "The files stay recorded as applied and the numbers are in dms_apply_log; rebuild the table "
        ~ "with --full-refresh once the cause is fixed.") }}
  {%- endif %}
{% endmacro %}

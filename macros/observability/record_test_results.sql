{#-
  Keep every test result in the lake (on-run-end), so the data-quality report sees the
  outcome of each test whether dbt ran as one `dbt build` or, under Airflow, as one
  invocation per model: run_results.json only ever holds the latest invocation.
-#}

{% macro record_test_results(results) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set tests = [] -%}
  {%- for result in results if result.node.resource_type == 'test' -%}
    {%- do tests.append(result) -%}
  {%- endfor -%}
  {%- if not tests -%}{{ return('') }}{%- endif -%}
  {%- set relation = cdc_bookkeeping_relation('dbt_test_results') -%}
  {% call statement('ensure_dbt_test_results') -%}
    create table if not exists {{ relation }} (
      invocation_id string,
      test_id string comment 'the test node unique_id',
      test_name string,
      model_name string comment 'the model the test is attached to',
      status string comment 'pass, fail, warn, error or skipped',
      failures bigint comment 'rows the test returned (0 when it passed)',
      message string,
      recorded_at timestamp
    ) using iceberg
  {%- endcall %}
  {% call statement('record_dbt_test_results') -%}
    insert into {{ relation }} values
    {%- for result in tests %}
      (
        '{{ invocation_id }}',
        {{ sql_string(result.node.unique_id) }},
        {{ sql_string(result.node.name) }},
        {{ sql_string(tested_model_name(result.node)) }},
        '{{ result.status }}',
        {{ result.failures if result.failures is not none else 'null' }},
        {{ sql_string((result.message | string)[:500]) if result.message else 'null' }},
        current_timestamp()
      ){{ ',' if not loop.last }}
    {%- endfor %}
  {%- endcall %}
  {{ return('') }}
{% endmacro %}

{% macro tested_model_name(test_node) -%}
  {%- set models = [] -%}
  {%- for node_id in ([test_node.attached_node] if test_node.attached_node else test_node.depends_on.nodes) -%}
    {%- if node_id.startswith('model.') -%}{%- do models.append(node_id.split('.')[-1]) -%}{%- endif -%}
  {%- endfor -%}
  {{- models[0] if models else '' -}}
{%- endmacro %}

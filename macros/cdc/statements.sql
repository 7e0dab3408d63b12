{% macro cdc_execute(sql) %}
  {#- A statement run for its effect (drop, alter, set), fetching nothing: run_query would
      ask for a result table, and dbt-glue has none for a statement without columns. -#}
  {% call statement('cdc_execute', fetch_result=False) -%}
    {{ sql }}
  {%- endcall %}
{% endmacro %}

{#-
  dbt's `statement`, with one change on the glue target: dbt-glue sends each SQL statement
  to its Glue session inside a Python string literal that is not raw
  (`SqlWrapper2.execute('''<sql>''')`), so Python would halve every backslash before Spark
  reads the SQL: the apply's regular expressions and sql_string's escapes would change.
  Doubling them here makes Spark read exactly the SQL dbt compiled
  (infra/glue/dbt-glue-contract.md). Every other target runs dbt's own macro unchanged.
-#}
{%- macro statement(name=None, fetch_result=False, auto_begin=True, language='sql') -%}
  {%- if execute -%}
  {%- set code = caller() -%}
  {%- if target.type == 'glue' and language == 'sql' -%}
    {%- if "'''" in code -%}
      {{ exceptions.raise_compiler_error("a statement holds ''', which dbt-glue's Python wrapper cannot carry") }}
    {%- endif -%}
    {%- set code = code | replace('\\', '\\\\') -%}
  {%- endif -%}
  {%- call dbt.statement(name, fetch_result, auto_begin, language) -%}{{ code }}{%- endcall -%}
  {%- endif -%}
{%- endmacro %}

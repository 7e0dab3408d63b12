{#-
  Typed columns that never lose a value quietly: each typed column is declared once as
  (column, raw field text, typed expression); typed_columns renders them, and
  uncast_fields lists, per row, the columns whose source had a value the type could not
  hold (a drifted field), so a test and the report can show them. The raw value stays in
  the current-state document.
-#}

{% macro typed_columns(columns) -%}
  {%- for column, raw, typed in columns %}
    {{ typed }} as {{ column }}{{ ',' if not loop.last }}
  {%- endfor %}
{%- endmacro %}

{% macro uncast_fields(columns) -%}
  filter(
    array(
      {%- for column, raw, typed in columns %}
      case when {{ raw }} is not null and {{ typed }} is null then '{{ column }}' end{{ ',' if not loop.last }}
      {%- endfor %}
    ),
    uncast -> uncast is not null
  )
{%- endmacro %}

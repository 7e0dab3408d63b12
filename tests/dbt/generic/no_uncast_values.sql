{% test no_uncast_values(model, column_name) %}
{#- Rows where a source value did not fit its typed column (schema drift): the typed
    column is null while the document has a value. Warn, so the models keep working. -#}
{{ config(severity='warn') }}
select *
from {{ model }}
where size({{ column_name }}) > 0
{% endtest %}

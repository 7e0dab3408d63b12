{% test landing_files_applied_once(model) %}
{#- Each landed file version (path, modification time) of the model's DMS source is
    applied exactly once. Attached to every current-state model, so it runs after that
    model's apply, which writes the record. -#}
select
    source_name,
    file_path,
    file_modified_at,
    count(*) as times_applied
from {{ cdc_applied_files_relation() }}
where target_table = {{ sql_string(model | string) }}
group by source_name, file_path, file_modified_at
having count(*) > 1
{% endtest %}

-- Each landed file version (path, modification time) is applied exactly once.
select
    source_name,
    file_path,
    file_modified_at,
    count(*) as times_applied
from {{ cdc_applied_files_relation() }}
group by source_name, file_path, file_modified_at
having count(*) > 1

-- Each landed file version (path, modification time) is applied exactly once.
-- The record is written by the current-state models, so run after them:
-- depends_on: {{ ref('current_clients') }}
-- depends_on: {{ ref('current_engagements') }}
-- depends_on: {{ ref('current_invoices') }}
-- depends_on: {{ ref('current_journal_entries') }}
select
    source_name,
    file_path,
    file_modified_at,
    count(*) as times_applied
from {{ cdc_applied_files_relation() }}
group by source_name, file_path, file_modified_at
having count(*) > 1

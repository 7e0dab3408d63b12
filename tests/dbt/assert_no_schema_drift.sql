-- Fields whose type changed, new fields, and fields disappearing from documents
-- (see models/monitoring/schema_drift.sql). Warn: the typed models keep working and the
-- raw documents keep every value; the finding is for people to look at.
{{ config(severity='warn') }}
select
    collection_name,
    field_name,
    drift,
    field_types,
    first_commit_ts
from {{ ref('schema_drift') }}

{{ config(materialized='incremental', incremental_strategy='append') }}

{#- Per run, the top-level fields and BSON types seen in the documents each current-state
    table changed: the raw material of the schema drift report. Cost follows the changes. -#}
{#- Run after every current-state model: one hint per collection (checked below). -#}
-- depends_on: {{ ref('current_clients') }}
-- depends_on: {{ ref('current_engagements') }}
-- depends_on: {{ ref('current_invoices') }}
-- depends_on: {{ ref('current_journal_entries') }}
{% do cdc_require_upstream_collections(model) %}
{#- One shape of SQL whether or not the table exists yet, so it lints the same either way. -#}
{% set changed_this_run = "applied_by = '" ~ invocation_id ~ "'" if is_incremental() else "true" %}

with changed_documents as (
    {% for found in cdc_collections() %}
        select
            {{ sql_string(found.collection) }} as collection_name,
            commit_ts,
            document
        from {{ api.Relation.create(schema=found.model.schema, identifier=found.model.alias) }}
        where
            not is_deleted
            and {{ changed_this_run }}
        {{ 'union all' if not loop.last }}
    {% endfor %}
),

fields as (
    select
        changed_documents.collection_name,
        changed_documents.commit_ts,
        field.key as field_name,
        {{ ejson_type('field.value') }} as field_type
    from changed_documents
        lateral view explode(from_json(changed_documents.document, 'map<string,string>')) field as key, value
),

documents_per_collection as (
    select
        collection_name,
        count(*) as documents_changed
    from changed_documents
    group by collection_name
)

select
    '{{ invocation_id }}' as invocation_id,
    current_timestamp() as observed_at,
    fields.collection_name,
    fields.field_name,
    fields.field_type,
    count(*) as documents,
    documents_per_collection.documents_changed,
    min(fields.commit_ts) as first_commit_ts,
    max(fields.commit_ts) as last_commit_ts
from fields
inner join documents_per_collection
    on fields.collection_name = documents_per_collection.collection_name
group by
    fields.collection_name,
    fields.field_name,
    fields.field_type,
    documents_per_collection.documents_changed

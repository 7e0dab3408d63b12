with live_documents as (
    select
        _id,
        {{ ejson_fields('document', [
            'client_id', 'code', 'type', 'status', 'start_date', 'end_date', 'hourly_rate',
            'budget_hours', 'partner', 'version'
        ]) }} as doc
    from {{ ref('current_engagements') }}
    where not is_deleted
)

select
    live_documents._id as engagement_id,
    {{ ejson_object_id('doc.client_id') }} as client_id,
    doc.code as engagement_code,
    doc.type as engagement_type,
    doc.status,
    {{ ejson_timestamp('doc.start_date') }} as start_date,
    {{ ejson_timestamp('doc.end_date') }} as end_date,
    {{ ejson_decimal('doc.hourly_rate', 18, 2) }} as hourly_rate,
    {{ ejson_int('doc.budget_hours') }} as budget_hours,
    get_json_object(doc.partner, '$.name') as partner_name,
    get_json_object(doc.partner, '$.email') as partner_email,
    {{ ejson_int('doc.version') }} as source_version
from live_documents

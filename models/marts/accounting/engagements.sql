{%- set typed = [
    ('client_id', 'doc.client_id', ejson_field_key('document', 'client_id')),
    ('start_date', 'doc.start_date', ejson_timestamp('doc.start_date')),
    ('end_date', 'doc.end_date', ejson_timestamp('doc.end_date')),
    ('hourly_rate', 'doc.hourly_rate', ejson_decimal('doc.hourly_rate', 18, 2)),
    ('budget_hours', 'doc.budget_hours', ejson_int('doc.budget_hours')),
    ('source_version', 'doc.version', ejson_int('doc.version')),
] -%}

with live_documents as (
    {{ live_documents(ref('current_engagements'), [
        'client_id', 'code', 'type', 'status', 'start_date', 'end_date', 'hourly_rate',
        'budget_hours', 'partner', 'version'
    ]) }}
)

select
    _id as engagement_id,
    doc.code as engagement_code,
    doc.type as engagement_type,
    doc.status,
    get_json_object(doc.partner, '$.name') as partner_name,
    get_json_object(doc.partner, '$.email') as partner_email,
    {{ typed_columns(typed) }},
    {{ uncast_fields(typed) }} as uncast_fields
from live_documents

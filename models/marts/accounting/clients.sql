{%- set typed = [
    ('founded_on', 'doc.founded_on', ejson_timestamp('doc.founded_on')),
    ('created_at', 'doc.created_at', ejson_timestamp('doc.created_at')),
    ('tags', 'doc.tags', ejson_array('doc.tags')),
    ('credit_limit', 'doc.credit_limit', ejson_decimal('doc.credit_limit', 18, 2)),
    ('employee_count', 'doc.employee_count', ejson_int('doc.employee_count')),
    ('annual_revenue', 'doc.annual_revenue', ejson_bigint('doc.annual_revenue')),
    ('risk_score', 'doc.risk_score', ejson_double('doc.risk_score')),
    ('source_version', 'doc.version', ejson_int('doc.version')),
] -%}

with live_documents as (
    {{ live_documents(ref('current_clients'), [
        'name', 'tax_id', 'email', 'status', 'founded_on', 'created_at', 'address', 'tags',
        'credit_limit', 'employee_count', 'annual_revenue', 'risk_score', 'vat_number', 'version'
    ]) }}
)

select
    _id as client_id,
    doc.name as client_name,
    doc.tax_id,
    doc.email,
    doc.status,
    get_json_object(doc.address, '$.street') as address_street,
    get_json_object(doc.address, '$.postal_code') as address_postal_code,
    get_json_object(doc.address, '$.city') as address_city,
    get_json_object(doc.address, '$.country') as address_country,
    doc.vat_number,
    {{ typed_columns(typed) }},
    {{ uncast_fields(typed) }} as uncast_fields
from live_documents

with live_documents as (
    select
        _id,
        {{ ejson_fields('document', [
            'name', 'tax_id', 'email', 'status', 'founded_on', 'created_at', 'address', 'tags',
            'credit_limit', 'employee_count', 'annual_revenue', 'risk_score', 'vat_number', 'version'
        ]) }} as doc
    from {{ ref('current_clients') }}
    where not is_deleted
)

select
    live_documents._id as client_id,
    doc.name as client_name,
    doc.tax_id,
    doc.email,
    doc.status,
    {{ ejson_timestamp('doc.founded_on') }} as founded_on,
    {{ ejson_timestamp('doc.created_at') }} as created_at,
    get_json_object(doc.address, '$.street') as address_street,
    get_json_object(doc.address, '$.postal_code') as address_postal_code,
    get_json_object(doc.address, '$.city') as address_city,
    get_json_object(doc.address, '$.country') as address_country,
    {{ ejson_array('doc.tags') }} as tags,
    {{ ejson_decimal('doc.credit_limit', 18, 2) }} as credit_limit,
    {{ ejson_int('doc.employee_count') }} as employee_count,
    {{ ejson_bigint('doc.annual_revenue') }} as annual_revenue,
    {{ ejson_double('doc.risk_score') }} as risk_score,
    doc.vat_number,
    {{ ejson_int('doc.version') }} as source_version
from live_documents

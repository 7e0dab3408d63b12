with live_documents as (
    select
        _id,
        {{ ejson_fields('document', [
            'number', 'client_id', 'engagement_id', 'status', 'currency', 'issued_at', 'due_at',
            'paid_at', 'lines', 'total', 'version'
        ]) }} as doc
    from {{ ref('current_invoices') }}
    where not is_deleted
)

select
    live_documents._id as invoice_id,
    doc.number as invoice_number,
    {{ ejson_object_id('doc.client_id') }} as client_id,
    {{ ejson_object_id('doc.engagement_id') }} as engagement_id,
    doc.status,
    doc.currency,
    {{ ejson_timestamp('doc.issued_at') }} as issued_at,
    {{ ejson_timestamp('doc.due_at') }} as due_at,
    {{ ejson_timestamp('doc.paid_at') }} as paid_at,
    size({{ ejson_array('doc.lines') }}) as line_count,
    {{ ejson_decimal('doc.total', 18, 2) }} as total_amount,
    {{ ejson_int('doc.version') }} as source_version
from live_documents

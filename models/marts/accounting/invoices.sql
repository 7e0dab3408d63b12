{%- set typed = [
    ('client_id', 'doc.client_id', ejson_field_key('document', 'client_id')),
    ('engagement_id', 'doc.engagement_id', ejson_field_key('document', 'engagement_id')),
    ('issued_at', 'doc.issued_at', ejson_timestamp('doc.issued_at')),
    ('due_at', 'doc.due_at', ejson_timestamp('doc.due_at')),
    ('paid_at', 'doc.paid_at', ejson_timestamp('doc.paid_at')),
    ('line_count', 'doc.lines', 'size(' ~ ejson_array('doc.lines') ~ ')'),
    ('total_amount', 'doc.total', ejson_decimal('doc.total', 18, 2)),
    ('source_version', 'doc.version', ejson_int('doc.version')),
] -%}

with live_documents as (
    {{ live_documents(ref('current_invoices'), [
        'number', 'client_id', 'engagement_id', 'status', 'currency', 'issued_at', 'due_at',
        'paid_at', 'lines', 'total', 'version'
    ]) }}
),

line_totals as (
    select
        invoice_id,
        sum(line_amount) as line_items_amount
    from {{ ref('invoice_line_items') }}
    group by invoice_id
)

select
    live_documents._id as invoice_id,
    doc.number as invoice_number,
    doc.status,
    doc.currency,
    {{ typed_columns(typed) }},
    coalesce(line_totals.line_items_amount, 0) as line_items_amount,
    {{ uncast_fields(typed) }} as uncast_fields
from live_documents
left join line_totals on live_documents._id = line_totals.invoice_id

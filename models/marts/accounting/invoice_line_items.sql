{%- set typed = [
    ('line_no', 'doc.line_no', ejson_int('doc.line_no')),
    ('quantity', 'doc.quantity', ejson_decimal('doc.quantity', 18, 4)),
    ('unit_price', 'doc.unit_price', ejson_decimal('doc.unit_price', 18, 2)),
    ('line_amount', 'doc.amount', ejson_decimal('doc.amount', 18, 2)),
    ('tax_rate', 'doc.tax_rate', ejson_double('doc.tax_rate')),
] -%}

with invoice_lines as (
    {{ live_document_items(ref('current_invoices'), 'lines', 'invoice_id') }}
),

line_fields as (
    select
        invoice_id,
        line_position,
        {{ ejson_fields('line_json', ['line_no', 'description', 'quantity', 'unit_price', 'amount', 'tax_rate']) }}
            as doc
    from invoice_lines
)

select
    concat(invoice_id, '-', cast(line_position as string)) as invoice_line_id,
    invoice_id,
    line_position,
    doc.description,
    {{ typed_columns(typed) }},
    {{ uncast_fields(typed) }} as uncast_fields
from line_fields

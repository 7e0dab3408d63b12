with invoice_lines as (
    select
        _id as invoice_id,
        posexplode({{ ejson_array("get_json_object(document, '$.lines')") }}) as (line_position, line_json)
    from {{ ref('current_invoices') }}
    where not is_deleted
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
    concat(line_fields.invoice_id, '-', cast(line_fields.line_position as string)) as invoice_line_id,
    line_fields.invoice_id,
    line_fields.line_position,
    {{ ejson_int('doc.line_no') }} as line_no,
    doc.description,
    {{ ejson_decimal('doc.quantity', 18, 4) }} as quantity,
    {{ ejson_decimal('doc.unit_price', 18, 2) }} as unit_price,
    {{ ejson_decimal('doc.amount', 18, 2) }} as line_amount,
    {{ ejson_double('doc.tax_rate') }} as tax_rate
from line_fields

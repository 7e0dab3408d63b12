{%- set typed = [
    ('debit_amount', 'doc.debit', ejson_decimal('doc.debit', 18, 2)),
    ('credit_amount', 'doc.credit', ejson_decimal('doc.credit', 18, 2)),
] -%}

with entry_lines as (
    {{ live_document_items(ref('current_journal_entries'), 'lines', 'journal_entry_id') }}
),

line_fields as (
    select
        journal_entry_id,
        line_position,
        {{ ejson_fields('line_json', ['account', 'debit', 'credit']) }} as doc
    from entry_lines
)

select
    concat(line_fields.journal_entry_id, '-', cast(line_fields.line_position as string)) as journal_entry_line_id,
    line_fields.journal_entry_id,
    line_fields.line_position,
    doc.account as account_code,
    {{ typed_columns(typed) }},
    {{ uncast_fields(typed) }} as uncast_fields
from line_fields

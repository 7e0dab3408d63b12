{%- set typed = [
    ('entry_no', 'doc.entry_no', ejson_bigint('doc.entry_no')),
    ('posted_at', 'doc.posted_at', ejson_timestamp('doc.posted_at')),
    ('source_invoice_id', 'doc.source_invoice_id', ejson_field_key('document', 'source_invoice_id')),
    ('line_count', 'doc.lines', 'size(' ~ ejson_array('doc.lines') ~ ')'),
    ('source_version', 'doc.version', ejson_int('doc.version')),
] -%}

with live_documents as (
    {{ live_documents(ref('current_journal_entries'), [
        'entry_no', 'posted_at', 'period', 'description', 'source_invoice_id', 'lines', 'version'
    ]) }}
),

line_totals as (
    select
        journal_entry_id,
        sum(debit_amount) as debit_total,
        sum(credit_amount) as credit_total
    from {{ ref('journal_entry_lines') }}
    group by journal_entry_id
)

select
    live_documents._id as journal_entry_id,
    doc.period as accounting_period,
    doc.description,
    {{ typed_columns(typed) }},
    coalesce(line_totals.debit_total, 0) as debit_total,
    coalesce(line_totals.credit_total, 0) as credit_total,
    {{ uncast_fields(typed) }} as uncast_fields
from live_documents
left join line_totals on live_documents._id = line_totals.journal_entry_id

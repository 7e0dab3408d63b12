{%- set typed = [
    ('entry_no', 'doc.entry_no', ejson_bigint('doc.entry_no')),
    ('posted_at', 'doc.posted_at', ejson_timestamp('doc.posted_at')),
    ('source_invoice_id', 'doc.source_invoice_id', ejson_object_id('doc.source_invoice_id')),
    ('line_count', 'doc.lines', 'size(' ~ ejson_array('doc.lines') ~ ')'),
    ('source_version', 'doc.version', ejson_int('doc.version')),
] -%}

with live_documents as (
    {{ live_documents(ref('current_journal_entries'), [
        'entry_no', 'posted_at', 'period', 'description', 'source_invoice_id', 'lines', 'version'
    ]) }}
)

select
    _id as journal_entry_id,
    doc.period as accounting_period,
    doc.description,
    {{ typed_columns(typed) }},
    {{ uncast_fields(typed) }} as uncast_fields
from live_documents

with live_documents as (
    select
        _id,
        {{ ejson_fields('document', [
            'entry_no', 'posted_at', 'period', 'description', 'source_invoice_id', 'lines', 'version'
        ]) }} as doc
    from {{ ref('current_journal_entries') }}
    where not is_deleted
)

select
    live_documents._id as journal_entry_id,
    {{ ejson_bigint('doc.entry_no') }} as entry_no,
    {{ ejson_timestamp('doc.posted_at') }} as posted_at,
    doc.period as accounting_period,
    doc.description,
    {{ ejson_object_id('doc.source_invoice_id') }} as source_invoice_id,
    size({{ ejson_array('doc.lines') }}) as line_count,
    {{ ejson_int('doc.version') }} as source_version
from live_documents

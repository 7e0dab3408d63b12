{% macro dms_changes(dms_source) -%}
  {#- Typed, ordered change events from a DMS source relation (see _ledger__sources.yml).
      Rows that failed the landing checks are already in dms_quarantine, not here. Full-load rows without `Op` are inserts; a delete's document is
      dropped whatever DMS wrote for it (null or just the `_id`). -#}
  select
    document_id as _id,
    document_key as dms_key_text,
    coalesce(op, 'I') as op,
    coalesce(op, 'I') = 'D' as is_deleted,
    case when coalesce(op, 'I') <> 'D' then document_json end as document,
    commit_ts,
    not is_full_load as is_cdc,
    source_file,
    source_row,
    source_path
  from {{ dms_source }}
{%- endmacro %}

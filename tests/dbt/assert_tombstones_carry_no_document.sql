-- A current-state row is either a live document or a tombstone, never both or neither.
{% for collection in ['clients', 'engagements', 'invoices', 'journal_entries'] %}
    select
        '{{ collection }}' as collection_name,
        _id,
        is_deleted,
        document
    from {{ ref('current_' ~ collection) }}
    where (is_deleted and document is not null) or (not is_deleted and document is null)
    {{ 'union all' if not loop.last }}
{% endfor %}

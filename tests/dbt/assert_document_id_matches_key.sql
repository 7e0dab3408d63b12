-- The `_id` inside each document agrees with the key DMS extracted (when DMS kept it).
{% for collection in ['clients', 'engagements', 'invoices', 'journal_entries'] %}
    select
        '{{ collection }}' as collection_name,
        _id,
        document_id
    from (
        select
            _id,
            {{ ejson_object_id("get_json_object(document, '$._id')") }} as document_id
        from {{ ref('current_' ~ collection) }}
        where not is_deleted
    ) as keyed
    where document_id is not null and document_id <> _id
    {{ 'union all' if not loop.last }}
{% endfor %}

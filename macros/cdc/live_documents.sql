{% macro live_documents(current_state, fields) -%}
  {#- The live documents of a current-state table, split once into the top-level fields
      a typed model needs (as `doc.<field>`, each the field's JSON text); `document` stays
      for the typed keys of its references (ejson_field_key). -#}
    select
        _id,
        document,
        {{ ejson_fields('document', fields) }} as doc
    from {{ current_state }}
    where not is_deleted
{%- endmacro %}

{% macro live_document_items(current_state, array_field, parent_key) -%}
  {#- One row per element of a live document's array field (invoice lines, journal lines):
      the parent's key, the element's position, and the element as JSON text. -#}
    select
        _id as {{ parent_key }},
        posexplode({{ ejson_array("get_json_object(document, '$." ~ array_field ~ "')") }})
            as (line_position, line_json)
    from {{ current_state }}
    where not is_deleted
{%- endmacro %}

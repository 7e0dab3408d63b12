{% macro live_documents(current_state, fields) -%}
  {#- The live documents of a current-state table, split once into the top-level fields
      a typed model needs (as `doc.<field>`, each the field's JSON text). -#}
    select
        _id,
        {{ ejson_fields('document', fields) }} as doc
    from {{ current_state }}
    where not is_deleted
{%- endmacro %}

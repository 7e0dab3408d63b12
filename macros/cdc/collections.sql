{#-
  The collections of the project, read from dbt's graph: every enabled cdc_current_state
  model and the DMS source table it reads. cdclake.catalog reads the same from the
  manifest; no file lists collections.
-#}

{% macro cdc_collections() %}
  {#- [{'collection': name, 'database': ..., 'model': the current-state model node}], by
      model id. Only at execution: while dbt parses, `graph` is still being built. -#}
  {%- set found = [] -%}
  {%- if execute -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id')
        if node.resource_type == 'model' and node.config.materialized == 'cdc_current_state' and node.config.enabled -%}
      {%- set sources = cdc_upstream_dms_sources(node) -%}
      {%- if sources | length == 1 -%}
        {%- do found.append({
            'collection': sources[0].meta.dms_collection,
            'database': sources[0].meta.get('dms_database') or sources[0].source_meta.get('dms_database'),
            'model': node}) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(found) }}
{% endmacro %}

{% macro cdc_require_upstream_collections(this_model) %}
  {#- A model that reads every current-state table must run after each of them, and dbt
      orders models only by the refs it sees while parsing, before `graph` exists: so such
      a model names them in `-- depends_on:` lines, and this check stops the run when a
      collection is missing from them, saying which line to add. -#}
  {%- if execute -%}
    {%- set missing = [] -%}
    {%- for found in cdc_collections() if found.model.unique_id not in this_model.depends_on.nodes -%}
      {%- do missing.append("-- depends_on: {{ ref('" ~ found.model.name ~ "') }}") -%}
    {%- endfor -%}
    {%- if missing -%}
      {{ exceptions.raise_compiler_error(
          this_model.original_file_path ~ " reads every current-state table, so it must run after each: add "
          ~ (missing | join(' and ')) ~ " to it (dbt orders models by the refs it finds while parsing)") }}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}

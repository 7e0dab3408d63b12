{#-
  Materialization of a current-state table from a DMS change stream.

  The model's SQL selects the latest change per key from the *new* landed rows (see
  cdc_latest_change_per_key); this materialization finds those new files, exposes them
  as the upstream DMS source, merges the result into the Iceberg table (cdc_merge_sql),
  and records the files as applied. With no new files it does nothing at all: no read,
  no commit. --full-refresh rebuilds the table from every landed file.
-#}

{% macro cdc_upstream_dms_sources(node) %}
  {#- The DMS sources a model reads, directly or through ephemeral staging models. -#}
  {%- set found = [] -%}
  {%- for upstream_id in node.depends_on.nodes -%}
    {%- if upstream_id in graph.sources -%}
      {%- set source_node = graph.sources[upstream_id] -%}
      {%- if source_node.meta.get('dms_collection') -%}{%- do found.append(source_node) -%}{%- endif -%}
    {%- elif upstream_id in graph.nodes and graph.nodes[upstream_id].config.materialized == 'ephemeral' -%}
      {%- do found.extend(cdc_upstream_dms_sources(graph.nodes[upstream_id])) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(found) }}
{% endmacro %}

{% macro cdc_needs_key_migration(existing) %}
  {#- Tables built before keys were typed (docs/key-identity.md) have no dms_key_text
      column and hold DMS's key text as _id: rebuild them from every landed file. -#}
  {%- set columns = adapter.get_columns_in_relation(existing) | map(attribute='name') | list -%}
  {%- if 'dms_key_text' not in columns -%}
    {{ log(existing ~ ": keyed by DMS's key text (an older format): rebuilding it from every landed file with typed keys", info=true) }}
    {{ return(true) }}
  {%- endif -%}
  {{ return(false) }}
{% endmacro %}

{% materialization cdc_current_state, default %}
  {%- set sources = cdc_upstream_dms_sources(model) -%}
  {%- if sources | length != 1 -%}
    {{ exceptions.raise_compiler_error(
        "cdc_current_state model " ~ model.name ~ " must read exactly one DMS source "
        ~ "(a source table with meta.dms_collection), directly or through an ephemeral staging model; found "
        ~ (sources | map(attribute='unique_id') | list)) }}
  {%- endif -%}
  {%- set source_node = sources[0] -%}
  {%- set existing = load_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set rebuild = existing is none or should_full_refresh() or cdc_needs_key_migration(existing) -%}

  {#- The bookkeeping tables are there: on-run-start (cdc_ensure_bookkeeping_for_run). -#}
  {% if rebuild %}
    {% do cdc_forget_applied_files(source_node) %}
  {% endif %}
  {%- set files = cdc_new_landing_files(source_node) -%}
  {{ log(model.name ~ ": " ~ (files | length) ~ " new landing file(s) for " ~ source_node.source_name ~ "." ~ source_node.name, info=true) }}

  {{ run_hooks(pre_hooks) }}

  {% if not rebuild and files | length == 0 %}
    {% call statement('main') -%}
      select 'no new landing files' as outcome
    {%- endcall %}
  {% else %}
    {% if files %}
      {% do cdc_probe_files(source_node, files) %}
    {% endif %}
    {% do cdc_stage_new_files(source_node, files, none if rebuild else target_relation) %}
    {{ log(model.name ~ ": merging " ~ (files | sum(attribute='rows')) ~ " landed row(s) into " ~ target_relation, info=true) }}
    {% if rebuild %}
      {% if existing is not none %}
        {% do adapter.drop_relation(existing) %}
      {% endif %}
      {% call statement('main') -%}
        {{ create_table_as(False, target_relation, compiled_code) }}
      {%- endcall %}
    {% else %}
      {% call statement('main') -%}
        {{ cdc_merge_sql(target_relation, compiled_code) }}
      {%- endcall %}
    {% endif %}
    {{ log(model.name ~ ": merged into " ~ target_relation, info=true) }}
    {% if rebuild and not files %}
      {{ log(model.name ~ ": no landing folder yet for " ~ source_node.source_name ~ "." ~ source_node.name
             ~ ": built an empty table", info=true) }}
    {% endif %}
    {% if files %}
      {% do cdc_record_applied_files(source_node, files, target_relation) %}
      {{ log(model.name ~ ": recorded " ~ (files | length) ~ " file(s) as applied", info=true) }}
    {% endif %}
    {% do cdc_log_apply(source_node, files, target_relation) %}
    {% if files and not rebuild %}
      {% do cdc_compact_after_apply(source_node, target_relation) %}
    {% endif %}
    {% do cdc_release_run_relations(source_node) %}
  {% endif %}

  {{ run_hooks(post_hooks) }}
  {% do persist_docs(target_relation, model) %}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

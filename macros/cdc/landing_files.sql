{#-
  Which DMS files have landed for a source table, and which of them are new.

  A file is identified by its path and modification time: a file landed again (same
  path, new time) is read again, which is harmless because applying an event twice
  changes nothing (see merge.sql). Spark skips unread files only when they are named
  literally, so the new files are worked out first and then read by name.
-#}

{% macro dms_setting(source_node, key) -%}
  {{- return(source_node.meta.get(key) or source_node.source_meta.get(key) or var(key)) -}}
{%- endmacro %}

{% macro dms_collection_dir(source_node) -%}
  {%- set root = var('landing_root').rstrip('/') -%}
  {{- return(root ~ '/' ~ dms_setting(source_node, 'dms_database') ~ '/' ~ source_node.meta.dms_collection) -}}
{%- endmacro %}

{% macro dms_collection_glob(source_node) -%}
  {#- Files at the collection's root (full load, CDC without date folders) or under YYYY/MM/DD. -#}
  {{- return(dms_collection_dir(source_node) ~ '/{*.parquet,*/*/*/*.parquet}') -}}
{%- endmacro %}

{% macro cdc_applied_files_relation() -%}
  {{- return(api.Relation.create(schema=target.schema, identifier='dms_applied_files', type='table')) -}}
{%- endmacro %}

{% macro cdc_ensure_applied_files_table() %}
  {% call statement('cdc_ensure_applied_files') -%}
    create table if not exists {{ cdc_applied_files_relation() }} (
      source_name string,
      file_path string,
      file_modified_at timestamp,
      file_bytes bigint,
      row_count bigint,
      target_table string,
      applied_at timestamp,
      invocation_id string
    ) using iceberg
  {%- endcall %}
{% endmacro %}

{% macro cdc_new_landing_files(source_node) %}
  {%- set query -%}
    with landed as (
      select path as file_path, modificationtime as file_modified_at, length as file_bytes
      from binaryfile.`{{ dms_collection_glob(source_node) }}`
    ),
    applied as (
      select file_path, file_modified_at
      from {{ cdc_applied_files_relation() }}
      where source_name = '{{ source_node.unique_id }}'
    )
    select landed.file_path, cast(landed.file_modified_at as string) as file_modified_at, landed.file_bytes
    from landed
    left anti join applied
      on landed.file_path = applied.file_path and landed.file_modified_at = applied.file_modified_at
    order by landed.file_path
  {%- endset -%}
  {%- set files = [] -%}
  {%- for row in run_query(query).rows -%}
    {%- do files.append({'path': row[0], 'modified_at': row[1], 'bytes': row[2]}) -%}
  {%- endfor -%}
  {{ return(files) }}
{% endmacro %}

{% macro cdc_forget_applied_files(source_node) %}
  {% call statement('cdc_forget_applied_files') -%}
    delete from {{ cdc_applied_files_relation() }} where source_name = '{{ source_node.unique_id }}'
  {%- endcall %}
{% endmacro %}

{% macro dms_files_glob(source_node, files) -%}
  {#- One Hadoop glob naming exactly `files`, so Spark lists and reads nothing else. -#}
    {%- set marker = '/' ~ dms_setting(source_node, 'dms_database') ~ '/' ~ source_node.meta.dms_collection ~ '/' -%}
  {%- set relative = [] -%}
  {%- for file in files -%}{%- do relative.append(file.path.split(marker)[-1]) -%}{%- endfor -%}
  {{- return(dms_collection_dir(source_node) ~ '/{' ~ (relative | join(',')) ~ '}') -}}
{%- endmacro %}

{% macro cdc_stage_new_files(source_node, files) %}
  {#- Expose exactly `files` as the source relation, with DMS's columns renamed to the
      contract described in _ledger__sources.yml. Schemas are merged across the new
      files only: full-load files may lack `Op`. -#}
  {%- set ts_column = dms_setting(source_node, 'dms_timestamp_column') -%}
  {%- set key_column = dms_setting(source_node, 'dms_key_column') -%}
  {% if files %}
    {%- set files_glob = dms_files_glob(source_node, files) -%}
    {% do run_query('set spark.sql.parquet.mergeSchema=true') %}
    {%- set landed_columns = run_query('select * from parquet.`' ~ files_glob ~ '` limit 0').column_names -%}
    {%- for required in [ts_column, key_column, '_doc'] if required not in landed_columns -%}
      {{ exceptions.raise_compiler_error(
          "DMS files for " ~ source_node.unique_id ~ " have no column '" ~ required ~ "' (columns: "
          ~ (landed_columns | join(', ')) ~ "). Check the endpoint's TimestampColumnName / key column "
          ~ "against vars dms_timestamp_column / dms_key_column. Files: " ~ (files | map(attribute='path') | join(', '))) }}
    {%- endfor -%}
  {% endif %}
  {% call statement('cdc_stage_new_changes') -%}
    create or replace global temporary view {{ source_node.identifier }} as
    {% if files %}
    select
      {{ 'Op' if 'Op' in landed_columns else 'cast(null as string)' }} as op,
      cast(`{{ ts_column }}` as string) as commit_ts_text,
      cast(`{{ key_column }}` as string) as document_key,
      cast(_doc as string) as document_json,
      _metadata.file_path as source_path,
      _metadata.file_name as source_file,
      _metadata.row_index as source_row,
      _metadata.file_name rlike '^(SEGMENT[0-9]+_)?LOAD[0-9]+[.]parquet$' as is_full_load
    from parquet.`{{ files_glob }}`
    {% else %}
    select
      cast(null as string) as op,
      cast(null as string) as commit_ts_text,
      cast(null as string) as document_key,
      cast(null as string) as document_json,
      cast(null as string) as source_path,
      cast(null as string) as source_file,
      cast(null as bigint) as source_row,
      cast(null as boolean) as is_full_load
    where false
    {% endif %}
  {%- endcall %}
{% endmacro %}

{% macro cdc_record_applied_files(source_node, files, target_relation) %}
  {#- Recorded after the merge commits. A crash in between leaves the files unrecorded;
      the next run reads them again, and re-applying them is a no-op. -#}
  {% if files %}
  {% call statement('cdc_record_applied_files') -%}
    insert into {{ cdc_applied_files_relation() }}
    select
      '{{ source_node.unique_id }}' as source_name,
      files.file_path,
      cast(files.file_modified_at as timestamp),
      cast(files.file_bytes as bigint),
      coalesce(rows_per_file.row_count, 0),
      '{{ target_relation }}',
      current_timestamp(),
      '{{ invocation_id }}'
    from values
      {%- for file in files %}
      ('{{ file.path }}', '{{ file.modified_at }}', {{ file.bytes }}){{ ',' if not loop.last }}
      {%- endfor %}
      as files (file_path, file_modified_at, file_bytes)
    left join (
      select source_path, count(*) as row_count
      from global_temp.{{ source_node.identifier }}
      group by source_path
    ) as rows_per_file
      on files.file_path = rows_per_file.source_path
  {%- endcall %}
  {% endif %}
{% endmacro %}

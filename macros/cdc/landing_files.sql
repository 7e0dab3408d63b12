{#-
  Which DMS files have landed for a source table, which of them are new, which can be
  read, and the bookkeeping of what was applied or quarantined.

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
  {{- return(dms_collection_dir(source_node) ~ '/' ~ var('dms_file_glob')) -}}
{%- endmacro %}

{% macro dms_files_glob(source_node, files) -%}
  {#- One Hadoop glob naming exactly `files`, so Spark lists and reads nothing else. -#}
  {%- set marker = '/' ~ dms_setting(source_node, 'dms_database') ~ '/' ~ source_node.meta.dms_collection ~ '/' -%}
  {%- set relative = [] -%}
  {%- for file in files -%}{%- do relative.append(file.path.split(marker)[-1]) -%}{%- endfor -%}
  {{- return(dms_collection_dir(source_node) ~ '/{' ~ (relative | join(',')) ~ '}') -}}
{%- endmacro %}

{% macro cdc_bookkeeping_relation(name) -%}
  {{- return(api.Relation.create(schema=target.schema, identifier=name, type='table')) -}}
{%- endmacro %}

{% macro cdc_applied_files_relation() -%}
  {{- return(cdc_bookkeeping_relation('dms_applied_files')) -}}
{%- endmacro %}

{% macro cdc_ensure_bookkeeping_tables() %}
  {#- Shared by the current-state models, which run in parallel: partitioning by source
      keeps each model's writes and deletes in a partition no other model touches. -#}
  {% call statement('cdc_ensure_applied_files') -%}
    create table if not exists {{ cdc_applied_files_relation() }} (
      source_name string comment 'dbt source the file belongs to',
      file_path string,
      file_modified_at timestamp,
      file_bytes bigint,
      row_count bigint comment 'rows in the file (0 when the file could not be read)',
      quarantine_reason string comment 'why the whole file was quarantined; null when it was read',
      target_table string,
      applied_at timestamp,
      invocation_id string
    ) using iceberg
    partitioned by (source_name)
  {%- endcall %}
  {% call statement('cdc_ensure_quarantine') -%}
    create table if not exists {{ cdc_bookkeeping_relation('dms_quarantine') }} (
      source_name string,
      file_path string,
      source_row bigint comment 'row in the file; null when the whole file was quarantined',
      reason string,
      op string,
      document_key string,
      commit_ts_text string,
      document_json string,
      quarantined_at timestamp,
      invocation_id string
    ) using iceberg
    partitioned by (source_name)
  {%- endcall %}
  {% call statement('cdc_ensure_apply_log') -%}
    create table if not exists {{ cdc_bookkeeping_relation('dms_apply_log') }} (
      source_name string,
      target_table string,
      invocation_id string,
      files_new bigint,
      files_quarantined bigint,
      rows_landed bigint comment 'rows in the readable new files',
      rows_applied bigint comment 'rows that became the current row of their key',
      rows_superseded bigint comment 'valid rows older than the current row of their key',
      rows_quarantined bigint,
      finished_at timestamp
    ) using iceberg
    partitioned by (source_name)
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
    {%- do files.append({'path': row[0], 'modified_at': row[1], 'bytes': row[2], 'rows': 0, 'problem': none}) -%}
  {%- endfor -%}
  {{ return(files) }}
{% endmacro %}

{% macro cdc_forget_applied_files(source_node) %}
  {% call statement('cdc_forget_applied_files') -%}
    delete from {{ cdc_applied_files_relation() }} where source_name = '{{ source_node.unique_id }}'
  {%- endcall %}
{% endmacro %}

{% macro cdc_probe_files(source_node, files) %}
  {#- Count each file's rows from its footer, skipping files Spark cannot read; then say
      why each skipped file was skipped. Sets file.rows, or file.problem. -#}
  {%- set ts_column = dms_setting(source_node, 'dms_timestamp_column') -%}
  {% call statement('cdc_probe_view') -%}
    create or replace temporary view dms_probe__{{ source_node.identifier }} (`{{ ts_column }}` string)
    using parquet
    options (path '{{ dms_files_glob(source_node, files) }}', ignoreCorruptFiles 'true')
  {%- endcall %}
  {%- set counted = {} -%}
  {%- set query -%}
    select replace(input_file_name(), ':///', ':/') as file_path, count(*) as row_count
    from dms_probe__{{ source_node.identifier }}
    group by 1
  {%- endset -%}
  {%- for row in run_query(query).rows -%}{%- do counted.update({row[0]: row[1]}) -%}{%- endfor -%}
  {%- set suspects = [] -%}
  {%- for file in files -%}
    {%- if file.path in counted -%}
      {%- do file.update({'rows': counted[file.path]}) -%}
    {%- elif file.bytes == 0 -%}
      {%- do file.update({'problem': 'empty file (0 bytes): not a Parquet file'}) -%}
    {%- else -%}
      {%- do suspects.append(file) -%}
    {%- endif -%}
  {%- endfor -%}
  {% if suspects %}
    {%- set query -%}
      select path, substring(content, 1, 4) = 'PAR1' and substring(content, -4, 4) = 'PAR1' as has_markers
      from binaryfile.`{{ dms_files_glob(source_node, suspects) }}`
    {%- endset -%}
    {%- set markers = {} -%}
    {%- for row in run_query(query).rows -%}{%- do markers.update({row[0]: row[1]}) -%}{%- endfor -%}
    {%- set zero_row_files = [] -%}
    {%- for file in suspects -%}
      {%- if markers.get(file.path) -%}
        {%- do zero_row_files.append(file) -%}
      {%- else -%}
        {%- do file.update({'problem': 'not a Parquet file (or truncated): it does not begin and end with PAR1'}) -%}
      {%- endif -%}
    {%- endfor -%}
    {% if zero_row_files %}
      {#- Parquet by its markers yet no rows counted: read it again without skipping, so a
          file Spark cannot read fails the run loudly instead of losing rows quietly. -#}
      {% do run_query('select count(*) from parquet.`' ~ dms_files_glob(source_node, zero_row_files) ~ '`') %}
    {% endif %}
  {% endif %}
{% endmacro %}

{% macro cdc_stage_new_files(source_node, files) %}
  {#- Check the readable new `files` row by row and quarantine what cannot be applied
      (and the unreadable files); then expose the rest as the source relation, with DMS's
      columns renamed to the contract of _ledger__sources.yml. The checks run once: the
      source relation leaves out the rows just quarantined instead of checking again. -#}
  {%- set readable = files | selectattr('problem', 'none') | list -%}
  {%- set landed_sql = dms_landed_rows_sql(source_node, readable) if readable else none -%}
  {% call statement('cdc_quarantine') -%}
    insert into {{ cdc_bookkeeping_relation('dms_quarantine') }}
    {%- if readable %}
    select
      '{{ source_node.unique_id }}', source_path, source_row, quarantine_reason,
      op, document_key, commit_ts_text, document_json, current_timestamp(), '{{ invocation_id }}'
    from (select *, {{ dms_row_problem() }} as quarantine_reason from ({{ landed_sql }}) as landed) as checked
    where quarantine_reason is not null
    {%- else %}
    select
      '{{ source_node.unique_id }}', null, null, null, null, null, null, null, current_timestamp(), '{{ invocation_id }}'
    where false
    {%- endif %}
    {%- for file in files if file.problem %}
    union all
    select
      '{{ source_node.unique_id }}', '{{ file.path }}', null, '{{ file.problem }}',
      null, null, null, null, current_timestamp(), '{{ invocation_id }}'
    {%- endfor %}
  {%- endcall %}
  {% for file in files if file.problem %}
    {{ log("QUARANTINED " ~ file.path ~ ": " ~ file.problem, info=true) }}
  {% endfor %}
  {% call statement('cdc_stage_new_changes') -%}
    create or replace global temporary view {{ source_node.identifier }} as
    {% if readable %}
    select landed.*
    from ({{ landed_sql }}) as landed
    left anti join (
      select file_path as source_path, source_row
      from {{ cdc_bookkeeping_relation('dms_quarantine') }}
      where
        source_name = '{{ source_node.unique_id }}'
        and invocation_id = '{{ invocation_id }}'
        and source_row is not null
    ) as quarantined
      on landed.source_path = quarantined.source_path and landed.source_row = quarantined.source_row
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

{% macro dms_landed_rows_sql(source_node, readable) -%}
  {#- The rows of the readable files, DMS columns renamed. Schemas are merged over these
      files only: full-load files may lack `Op`; a column missing from every file reads
      as null (and its rows are quarantined by dms_row_problem). -#}
  {%- set ts_column = dms_setting(source_node, 'dms_timestamp_column') -%}
  {%- set key_column = dms_setting(source_node, 'dms_key_column') -%}
  {%- set files_glob = dms_files_glob(source_node, readable) -%}
  {% do run_query('set spark.sql.parquet.mergeSchema=true') %}
  {%- set landed_columns = run_query('select * from parquet.`' ~ files_glob ~ '` limit 0').column_names -%}
  select
    {{ dms_column_or_null('Op', landed_columns) }} as op,
    {{ dms_column_or_null(ts_column, landed_columns) }} as commit_ts_text,
    {{ dms_column_or_null(key_column, landed_columns) }} as document_key,
    {{ dms_column_or_null('_doc', landed_columns) }} as document_json,
    _metadata.file_path as source_path,
    _metadata.file_name as source_file,
    _metadata.row_index as source_row,
    _metadata.file_name rlike '^(SEGMENT[0-9]+_)?LOAD[0-9]+[.]parquet$' as is_full_load
  from parquet.`{{ files_glob }}`
{%- endmacro %}

{% macro dms_column_or_null(column, landed_columns) -%}
  {{- 'cast(`' ~ column ~ '` as string)' if column in landed_columns else 'cast(null as string)' -}}
{%- endmacro %}

{% macro dms_row_problem() -%}
  {#- Why a landed row cannot be applied, or null. The first problem found is given. -#}
  case
    when document_key is null or trim(document_key) = ''
      then 'missing _id: the key column is null or empty'
    when op is not null and op not in ('I', 'U', 'D')
      then concat('unknown Op "', op, '"')
    when op is null and not is_full_load
      then 'missing Op on a CDC row'
    when commit_ts_text is null
      then 'missing commit timestamp'
    when try_to_timestamp(commit_ts_text, 'yyyy-MM-dd HH:mm:ss.SSSSSS') is null
      then concat('commit timestamp does not parse as yyyy-MM-dd HH:mm:ss.SSSSSS: ', commit_ts_text)
    when coalesce(op, 'I') <> 'D' and document_json is null
      then 'insert or update without a document (_doc is null or the file has no _doc column)'
    when document_json is not null and json_object_keys(document_json) is null
      then 'document is not valid JSON (Extended JSON object expected)'
    when {{ ejson_key_text("get_json_object(document_json, '$._id')") }} <> document_key
      then concat(
        'document _id ', {{ ejson_key_text("get_json_object(document_json, '$._id')") }},
        ' disagrees with the key column ', document_key
      )
  end
{%- endmacro %}

{% macro cdc_record_applied_files(source_node, files, target_relation) %}
  {#- Recorded after the merge commits. A crash in between leaves the files unrecorded;
      the next run reads them again, and re-applying them is a no-op. -#}
  {% call statement('cdc_record_applied_files') -%}
    insert into {{ cdc_applied_files_relation() }}
    select
      '{{ source_node.unique_id }}', file_path, cast(file_modified_at as timestamp), file_bytes, row_count,
      quarantine_reason, '{{ target_relation }}', current_timestamp(), '{{ invocation_id }}'
    from values
      {%- for file in files %}
      ('{{ file.path }}', '{{ file.modified_at }}', {{ file.bytes }}, {{ file.rows }},
       {{ "'" ~ file.problem ~ "'" if file.problem else 'cast(null as string)' }}){{ ',' if not loop.last }}
      {%- endfor %}
      as files (file_path, file_modified_at, file_bytes, row_count, quarantine_reason)
  {%- endcall %}
{% endmacro %}

{% macro cdc_log_apply(source_node, files, target_relation) %}
  {#- rows landed = applied + superseded + quarantined, per run and source: counted once,
      then recorded and printed from the same numbers. -#}
  {%- set counted = run_query(
      "select (select count(*) from " ~ target_relation ~ " where applied_by = '" ~ invocation_id ~ "'), "
      ~ "(select count(*) from " ~ cdc_bookkeeping_relation('dms_quarantine') ~ " where invocation_id = '"
      ~ invocation_id ~ "' and source_name = '" ~ source_node.unique_id ~ "' and source_row is not null)").rows[0] -%}
  {%- set landed = files | sum(attribute='rows') -%}
  {%- set applied, quarantined = counted[0], counted[1] -%}
  {%- set files_quarantined = files | selectattr('problem') | list | length -%}
  {% call statement('cdc_log_apply') -%}
    insert into {{ cdc_bookkeeping_relation('dms_apply_log') }}
    values (
      '{{ source_node.unique_id }}', '{{ target_relation }}', '{{ invocation_id }}',
      {{ files | length }}, {{ files_quarantined }},
      {{ landed }}, {{ applied }}, {{ landed - applied - quarantined }}, {{ quarantined }}, current_timestamp()
    )
  {%- endcall %}
  {{ log(target_relation ~ ": " ~ landed ~ " row(s) landed = " ~ applied ~ " applied + "
         ~ (landed - applied - quarantined) ~ " superseded + " ~ quarantined ~ " quarantined; "
         ~ files_quarantined ~ " file(s) quarantined", info=true) }}
{% endmacro %}

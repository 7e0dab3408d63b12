{#-
  Which DMS files have landed for a source table, which of them are new, which can be
  read, and the bookkeeping of what was applied or quarantined.

  A file is identified by its path and modification time: a file landed again (same
  path, new time) is read again, which is harmless because applying an event twice
  changes nothing (see merge.sql). Spark skips unread files only when they are named
  literally, so the new files are worked out first and then read by name. Paths and names
  reach SQL and globs only through macros/quoting.sql; a path is kept as Spark lists it.
-#}

{% macro dms_setting(source_node, key) -%}
  {#- A DMS setting of a source table: its meta, its source's meta, else the default the
      current-state models carry (`dms_defaults` in dbt_project.yml, where --vars can
      override it). cdclake.catalog resolves settings the same way from the manifest. -#}
  {%- set value = source_node.meta.get(key) or source_node.source_meta.get(key)
      or model.config.meta.get('dms_defaults', {}).get(key) -%}
  {%- if not value -%}
    {{ exceptions.raise_compiler_error(
        "no " ~ key ~ " for " ~ source_node.unique_id ~ ": set meta." ~ key ~ " on the source or its table") }}
  {%- endif -%}
  {{- return(value) -}}
{%- endmacro %}

{% macro dms_database_dir(source_node) -%}
  {#- The landing folder of the source's DMS database: names checked, not yet escaped. -#}
  {%- set root = checked_path_name(var('landing_root').rstrip('/'), 'CDCLAKE_LANDING_ROOT (dbt var landing_root)') -%}
  {%- set database = checked_folder_name(dms_setting(source_node, 'dms_database'), 'meta.dms_database of ' ~ source_node.unique_id) -%}
  {{- return(root ~ '/' ~ database) -}}
{%- endmacro %}

{% macro dms_collection_dir(source_node) -%}
  {%- set collection = checked_folder_name(source_node.meta.dms_collection, 'meta.dms_collection of ' ~ source_node.unique_id) -%}
  {{- return(dms_database_dir(source_node) ~ '/' ~ collection) -}}
{%- endmacro %}

{% macro dms_listing_options(folder, source_node) -%}
  {#- Options of a binaryfile view listing the DMS files under `folder`, at any depth.
      One folder listed recursively, directory by directory (one LIST a folder on S3),
      rather than a glob naming each file: Spark checks each file a glob names again, in
      a Spark job of its own once there are more than 32, which cost seconds per
      collection and grew with every batch landed. -#}
  path {{ sql_string(hadoop_glob_literal(folder)) }},
  recursiveFileLookup 'true',
  pathGlobFilter {{ sql_string(dms_setting(source_node, 'dms_file_name_glob')) }}
{%- endmacro %}

{% macro dms_files_glob(source_node, files) -%}
  {#- One Hadoop glob naming exactly `files`, so Spark lists and reads nothing else. -#}
  {{- return(hadoop_glob_naming(files | map(attribute='path') | list)) -}}
{%- endmacro %}

{% macro cdc_bookkeeping_relation(name) -%}
  {{- return(api.Relation.create(schema=target.schema, identifier=name, type='table')) -}}
{%- endmacro %}

{% macro cdc_bookkeeping_relations() -%}
  {#- The apply's bookkeeping tables (cdc_ensure_bookkeeping_tables), each partitioned by
      source: what the tables' properties are checked on and what an apply compacts. -#}
  {{- return([cdc_applied_files_relation(), cdc_bookkeeping_relation('dms_quarantine'),
              cdc_bookkeeping_relation('dms_apply_log')]) -}}
{%- endmacro %}

{% macro cdc_applied_files_relation() -%}
  {{- return(cdc_bookkeeping_relation('dms_applied_files')) -}}
{%- endmacro %}

{% macro cdc_landed_at_query(source_name, table_name) -%}
  {#- Source freshness (`loaded_at_query` of each DMS source table): when DMS landed the
      newest file the apply has recorded for it. It goes stale when DMS stops landing and
      when the applies stop, both of which an analyst should hear about. -#}
  select max(file_modified_at) from {{ cdc_applied_files_relation() }}
  where source_name = {{ sql_string('source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name) }}
{%- endmacro %}

{% macro cdc_metadata_file_properties() -%}
  {#- Every commit writes a new metadata file holding every snapshot kept (five days by
      default): an apply's tables commit each batch, so without these their metadata
      folders grew by the square of the commits (61 MB for dms_applied_files after 53
      batches) until the orphan-file removal, days later. Twenty previous versions are
      kept for whoever reads one that was current a moment ago. -#}
  {{- return({'write.metadata.delete-after-commit.enabled': 'true', 'write.metadata.previous-versions-max': '20'}) -}}
{%- endmacro %}

{% macro cdc_shared_table_properties() -%}
  {#- The current-state models append to the bookkeeping tables side by side, so their
      commits race: the loser retries after Iceberg's backoff, 100 ms doubling by default,
      which cost seconds per run for an append of a few rows. These appends never conflict
      in content (another partition each), so a retry right away succeeds. -#}
  {%- set properties = {'commit.retry.min-wait-ms': '10', 'commit.retry.max-wait-ms': '1000', 'commit.retry.num-retries': '20'} -%}
  {%- do properties.update(cdc_metadata_file_properties()) -%}
  {{- return(properties) -}}
{%- endmacro %}

{% macro cdc_ensure_table_properties(relation, wanted) %}
  {#- Tables created before a property was wanted get it once (an alter is a metadata
      commit, so it is made only when something is missing). -#}
  {%- set current = {} -%}
  {%- for row in run_query('show tblproperties ' ~ relation).rows -%}
    {%- do current.update({row[0]: row[1]}) -%}
  {%- endfor -%}
  {%- set missing = [] -%}
  {%- for key, value in wanted.items() if current.get(key) != value -%}
    {%- do missing.append(sql_string(key) ~ ' = ' ~ sql_string(value)) -%}
  {%- endfor -%}
  {% if missing %}
    {% do cdc_execute('alter table ' ~ relation ~ ' set tblproperties (' ~ missing | join(', ') ~ ')') %}
  {% endif %}
{% endmacro %}

{% macro cdc_shared_table_properties_sql() -%}
  tblproperties (
    {%- for key, value in cdc_shared_table_properties().items() %}
    {{ sql_string(key) }} = {{ sql_string(value) }}{{ ',' if not loop.last }}
    {%- endfor %}
  )
{%- endmacro %}

{% macro cdc_ensure_bookkeeping_for_run() %}
  {#- on-run-start: the bookkeeping tables, once for a dbt invocation that applies any
      current-state model, rather than by each model (seven catalog statements a model,
      in every batch). -#}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set applies = [] -%}
  {%- for unique_id in selected_resources if unique_id in graph.nodes
        and graph.nodes[unique_id].config.materialized == 'cdc_current_state' -%}
    {%- do applies.append(unique_id) -%}
  {%- endfor -%}
  {% if applies %}
    {% do cdc_small_files_setting() %}  {#- a bad value fails the run before any apply -#}
    {% do cdc_ensure_bookkeeping_tables() %}
    {#- A current-state table is created by its model's first apply (create_table_as);
        the next run gives it the metadata properties, as it does tables made before. -#}
    {% for unique_id in applies %}
      {%- set node = graph.nodes[unique_id] -%}
      {%- set existing = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
      {% if existing is not none %}
        {% do cdc_ensure_table_properties(existing, cdc_metadata_file_properties()) %}
      {% endif %}
    {% endfor %}
  {% endif %}
  {{ return('') }}
{% endmacro %}

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
    {{ cdc_shared_table_properties_sql() }}
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
    {{ cdc_shared_table_properties_sql() }}
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
    {{ cdc_shared_table_properties_sql() }}
  {%- endcall %}
  {% for relation in cdc_bookkeeping_relations() %}
    {% do cdc_ensure_table_properties(relation, cdc_shared_table_properties()) %}
  {% endfor %}
{% endmacro %}

{% macro cdc_new_landing_files(source_node) %}
  {#- Spark fails on a glob that matches nothing, and DMS makes a collection's folder with
      its first file (an empty collection may have none for long): until a file of the
      source is recorded, dms_collection_has_landed looks first. The listing is a view, so
      that a name Hadoop cannot glob fails the run with Hadoop's own error naming it. -#}
  {%- set source_filter = 'source_name = ' ~ sql_string(source_node.unique_id) -%}
  {%- set recorded = run_query(
      'select 1 from ' ~ cdc_applied_files_relation() ~ ' where ' ~ source_filter ~ ' limit 1').rows | length > 0 -%}
  {%- if not recorded and not dms_collection_has_landed(source_node) -%}
    {{ log("no landing folder yet for " ~ source_node.source_name ~ "." ~ source_node.name
           ~ " (nothing landed under " ~ dms_collection_dir(source_node) ~ ")", info=true) }}
    {{ return([]) }}
  {%- endif -%}
  {%- set listing = sql_identifier('dms_landed__' ~ source_node.identifier) -%}
  {% call statement('cdc_list_landing') -%}
    create or replace temporary view {{ listing }}
    using binaryfile
    options ({{ dms_listing_options(dms_collection_dir(source_node), source_node) }})
  {%- endcall %}
  {%- set query -%}
    with landed as (
      select path as file_path, modificationtime as file_modified_at, length as file_bytes
      from {{ listing }}
    ),
    applied as (
      select file_path, file_modified_at
      from {{ cdc_applied_files_relation() }}
      where {{ source_filter }}
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

{% macro dms_collection_has_landed(source_node) %}
  {#- Whether any file of the collection has landed, without failing when its folder does
      not exist: lists the database's whole folder, as dms_listing_options lists one
      collection's (this fails only when nothing at all has landed for the database). -#}
  {%- set database_dir = dms_database_dir(source_node) -%}
  {%- set listing = sql_identifier('dms_landed_database__' ~ source_node.identifier) -%}
  {{ log("nothing recorded yet for " ~ source_node.source_name ~ "." ~ source_node.name ~ ": looking for its files under "
         ~ database_dir ~ " (a failure here means nothing has landed there: check CDCLAKE_LANDING_ROOT)", info=true) }}
  {% call statement('cdc_list_landing_database') -%}
    create or replace temporary view {{ listing }}
    using binaryfile
    options ({{ dms_listing_options(database_dir, source_node) }})
  {%- endcall %}
  {%- set folder = '/' ~ database_dir.split('/')[-1] ~ '/' ~ source_node.meta.dms_collection ~ '/' -%}
  {%- set query -%}
    select 1 from {{ listing }} where instr(path, {{ sql_string(folder) }}) > 0 limit 1
  {%- endset -%}
  {{ return(run_query(query).rows | length > 0) }}
{% endmacro %}

{% macro cdc_forget_applied_files(source_node) %}
  {% call statement('cdc_forget_applied_files') -%}
    delete from {{ cdc_applied_files_relation() }} where source_name = {{ sql_string(source_node.unique_id) }}
  {%- endcall %}
{% endmacro %}

{% macro cdc_probe_files(source_node, files) %}
  {#- Count each file's rows from its footer, skipping files Spark cannot read; then say
      why each skipped file was skipped. Sets file.rows, or file.problem. -#}
  {%- set ts_column = dms_setting(source_node, 'dms_timestamp_column') -%}
  {% call statement('cdc_probe_view') -%}
    create or replace temporary view {{ sql_identifier('dms_probe__' ~ source_node.identifier) }} ({{ sql_identifier(ts_column) }} string)
    using parquet
    options (path {{ sql_string(dms_files_glob(source_node, files)) }}, ignoreCorruptFiles 'true')
  {%- endcall %}
  {%- set counted = {} -%}
  {%- set query -%}
    select {{ canonical_file_path('input_file_name()') }} as file_path, count(*) as row_count
    from {{ sql_identifier('dms_probe__' ~ source_node.identifier) }}
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
      from binaryfile.{{ sql_identifier(dms_files_glob(source_node, suspects)) }}
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
      {% do run_query('select count(*) from parquet.' ~ sql_identifier(dms_files_glob(source_node, zero_row_files))) %}
    {% endif %}
  {% endif %}
{% endmacro %}

{% macro cdc_stage_new_files(source_node, files, key_relation=none) %}
  {#- Check the readable new `files` row by row and quarantine what cannot be applied
      (and the unreadable files); then expose the rest as the source relation, with DMS's
      columns renamed to the contract of _ledger__sources.yml.

      The files are read and their documents parsed once: each row, keyed and checked as
      far as its own document tells (dms_prechecked_rows_sql), is written to the apply's
      scratch folder, which every later step reads as plain Parquet (the resolution of
      key texts, the quarantine, the merge, the accounting). Cached instead, the rows
      would carry the checks' whole expression into the plan of each of those statements,
      and Spark spends seconds analysing each such plan again, which dominated small
      batches. -#}
  {%- set readable = files | selectattr('problem', 'none') | list -%}
  {%- set prechecked = cdc_run_relation(source_node, 'prechecked_rows') -%}
  {%- set resolved = cdc_run_relation(source_node, 'resolved_keys') -%}
  {%- set checked = cdc_run_relation(source_node, 'checked_rows') -%}
  {%- if readable -%}
    {%- set scratch = cdc_scratch_dir(source_node) -%}
    {% call statement('cdc_write_prechecked_rows') -%}
      insert overwrite directory {{ sql_string(scratch ~ '/rows') }} using parquet
      {{ dms_prechecked_rows_sql('(' ~ dms_typed_rows_sql(dms_landed_rows_sql(source_node, readable)) ~ ')') }}
    {%- endcall %}
    {% do cdc_read_scratch(prechecked, scratch ~ '/rows', dms_prechecked_rows_schema()) %}
    {#- A row's problem is final here (`pre_problem`) unless its key is resolved from its
        text against other keys: a row with its own `_id`, and every row when each text
        stands for its default key (cdc_keys_are_default). -#}
    {%- set keyless, batch_keys_not_default, rows_with_problems = run_query(
        'select count_if(needs_key_resolution), count_if(key_not_default), count_if(pre_problem is not null) from '
        ~ prechecked
      ).rows[0] -%}
    {%- set keys_by_default = keyless == 0 or (
        batch_keys_not_default == 0 and (key_relation is none or cdc_keys_are_default(key_relation))) -%}
    {% if not keys_by_default %}
      {#- Resolving key texts joins the batch with itself and the table: done once (the
          quarantine, the merge and the accounting read the result). -#}
      {% call statement('cdc_resolve_key_texts') -%}
        insert overwrite directory {{ sql_string(scratch ~ '/resolved_keys') }} using parquet
        {{ dms_resolved_key_texts_sql(prechecked, key_relation) }}
      {%- endcall %}
      {% do cdc_read_scratch(resolved, scratch ~ '/resolved_keys', dms_resolved_keys_schema()) %}
    {% endif %}
    {% call statement('cdc_check_rows') -%}
      create or replace temporary view {{ checked }} as
      select
        *,
        {%- if keys_by_default %}
        pre_problem as quarantine_reason
        {%- else %}
        case when document_id_kind is null then {{ dms_row_problem() }} else pre_problem end as quarantine_reason
        {%- endif %}
      from ({{ dms_keyed_rows_sql(prechecked, none if keys_by_default else resolved) }}) as keyed
    {%- endcall %}
  {%- else -%}
    {% call statement('cdc_check_rows') -%}
      create or replace temporary view {{ checked }} as
      select
        cast(null as string) as source_path, cast(null as bigint) as source_row, cast(null as string) as source_file,
        cast(null as boolean) as is_full_load, cast(null as string) as op, cast(null as string) as commit_ts_text,
        cast(null as timestamp) as commit_ts,
        cast(null as string) as document_key, cast(null as string) as document_id, cast(null as string) as document_json,
        cast(null as string) as quarantine_reason
      where false
    {%- endcall %}
  {%- endif %}
  {#- An empty insert would still be a commit, which concurrent models contend for. -#}
  {%- set rows_to_quarantine = 0 if not readable else rows_with_problems if keys_by_default else run_query(
      'select count(*) from ' ~ checked ~ ' where quarantine_reason is not null').rows[0][0] -%}
  {% if rows_to_quarantine > 0 or files | selectattr('problem') | list %}
  {% call statement('cdc_quarantine') -%}
    insert into {{ cdc_bookkeeping_relation('dms_quarantine') }}
    select
      {{ sql_string(source_node.unique_id) }}, source_path, source_row, quarantine_reason,
      op, document_key, commit_ts_text, document_json, current_timestamp(), '{{ invocation_id }}'
    from {{ checked }}
    where quarantine_reason is not null
    {%- for file in files if file.problem %}
    union all
    select
      {{ sql_string(source_node.unique_id) }}, {{ sql_string(file.path) }}, null, {{ sql_string(file.problem) }},
      null, null, null, null, current_timestamp(), '{{ invocation_id }}'
    {%- endfor %}
  {%- endcall %}
  {% endif %}
  {% for file in files if file.problem %}
    {{ log("QUARANTINED " ~ file.path ~ ": " ~ file.problem, info=true) }}
  {% endfor %}
  {% call statement('cdc_stage_new_changes') -%}
    create or replace global temporary view {{ sql_identifier(source_node.identifier) }} as
    select
      op, commit_ts_text, commit_ts, document_key, document_id, document_json, source_path, source_file, source_row,
      is_full_load
    from {{ checked }}
    where quarantine_reason is null
  {%- endcall %}
{% endmacro %}

{% macro cdc_scratch_dir(source_node) -%}
  {#- The folder an apply of `source_node` stages its rows in (`rows`, `resolved_keys`):
      one per schema and source, so that developers' schemas and parallel models never
      share one. Two dbt runs applying the same source at once would share it (the DAG
      runs one at a time; the accounting would fail such a run). -#}
  {%- set setting = 'CDCLAKE_SCRATCH_ROOT (dbt var cdc_scratch_root)' -%}
  {%- set root = checked_path_name(var('cdc_scratch_root').rstrip('/'), setting) -%}
  {%- set local = '^(?![A-Za-z][A-Za-z0-9+.-]*://)|^file:' -%}
  {%- if target.type == 'glue' and modules.re.match(local, root, modules.re.I)
        and not modules.re.match(local, target.location or 's3://', modules.re.I) -%}
    {#- A Glue session's workers share no local disk with each other or with dbt; only a
        warehouse that is itself a local folder (the Glue stand-in of the tests) may. -#}
    {{ exceptions.raise_compiler_error(
        setting ~ '="' ~ root ~ '" is a local folder, which a Glue session cannot share: set it to an S3 '
        ~ 'prefix beside the warehouse, e.g. $CDCLAKE_WAREHOUSE_URI/_cdc_scratch') }}
  {%- endif -%}
  {{- return(root ~ '/' ~ local_md5(target.schema ~ '.' ~ source_node.unique_id)) -}}
{%- endmacro %}

{% macro cdc_run_relation(source_node, what) -%}
  {#- A session-local view of one apply, named from the source's id so that models
      running side by side in one session never share one. -#}
  cdc_{{ what }}_{{ local_md5(source_node.unique_id) }}
{%- endmacro %}

{% macro cdc_release_run_relations(source_node) %}
  {#- Drops the views of cdc_stage_new_files after the apply (a run that failed leaves
      them to the next apply, which replaces those it reads). The scratch folder keeps the
      last batch's checked rows until the next apply of the source replaces them: the same
      documents as the landing files and the table, under the same access, and useful when
      a run fails. Emptying it cost a Spark job per model per run. -#}
  {% for what in ['checked_rows', 'resolved_keys', 'prechecked_rows'] %}
    {% do cdc_execute('drop view if exists ' ~ cdc_run_relation(source_node, what)) %}
  {% endfor %}
{% endmacro %}

{% macro cdc_read_scratch(view, folder, schema) %}
  {#- A view of what an apply wrote to `folder`, with its schema given: nothing to infer,
      no footers to merge. -#}
  {% call statement('cdc_read_scratch') -%}
    create or replace temporary view {{ view }} ({{ schema }})
    using parquet
    options (path {{ sql_string(hadoop_glob_literal(folder)) }}, mergeSchema 'false')
  {%- endcall %}
{% endmacro %}

{% macro dms_prechecked_rows_schema() -%}
  source_path string, source_row bigint, source_file string, is_full_load boolean, op string,
  commit_ts_text string, commit_ts timestamp, document_key string, document_json string, document_id_kind string,
  typed_id string, document_id_dms_text string, document_is_json boolean, has_document boolean,
  document_id_token string, pre_problem string, needs_key_resolution boolean, key_not_default boolean
{%- endmacro %}

{% macro dms_resolved_keys_schema() -%}
  source_path string, source_row bigint, document_id string, key_problem string
{%- endmacro %}

{% macro dms_prechecked_rows_sql(typed_sql) -%}
  {#- Each typed row (dms_typed_rows_sql) as the later steps need it, and its problem as
      far as its own document tells (`pre_problem`: final unless its key is resolved from
      its text). The `_id` token is kept only where it cannot be a key, for the message. -#}
  select
    source_path, source_row, source_file, is_full_load, op, commit_ts_text, commit_ts, document_key, document_json,
    document_id_kind, typed_id, document_id_dms_text, document_is_json, has_document,
    if(typed_id is null, document_id_token, null) as document_id_token,
    pre_problem,
    -- counted before the merge: as flags, the count reads no text
    document_id_kind is null and document_key is not null as needs_key_resolution,
    {{ dms_key_is_not_default('typed_id', 'document_key') }} as key_not_default
  from (
    select *, {{ dms_row_problem() }} as pre_problem
    from (
      select
        *,
        document_json is not null as has_document,
        -- parsed once, here: the checks, the merge and the accounting read this column
        try_to_timestamp(commit_ts_text, '{{ dms_commit_ts_format() }}') as commit_ts
      from ({{ dms_keyed_rows_sql(typed_sql) }}) as keyed
    ) as unresolved
  ) as prechecked
{%- endmacro %}

{% macro dms_landed_rows_sql(source_node, readable) -%}
  {#- The rows of the readable files, DMS columns renamed. Schemas are merged over these
      files only: full-load files may lack `Op`; a column missing from every file reads
      as null (and its rows are quarantined by dms_row_problem). -#}
  {%- set ts_column = dms_setting(source_node, 'dms_timestamp_column') -%}
  {%- set key_column = dms_setting(source_node, 'dms_key_column') -%}
  {%- set files_glob = dms_files_glob(source_node, readable) -%}
  {% do cdc_execute('set spark.sql.parquet.mergeSchema=true') %}
  {%- set landed_columns = run_query('select * from parquet.' ~ sql_identifier(files_glob) ~ ' limit 0').column_names -%}
  select
    {{ dms_column_or_null('Op', landed_columns) }} as op,
    {{ dms_column_or_null(ts_column, landed_columns) }} as commit_ts_text,
    {{ dms_column_or_null(key_column, landed_columns) }} as document_key,
    {{ dms_column_or_null('_doc', landed_columns) }} as document_json,
    {{ canonical_file_path('_metadata.file_path') }} as source_path,
    {{ canonical_file_path('_metadata.file_name') }} as source_file,
    _metadata.row_index as source_row,
    _metadata.file_name rlike '^(SEGMENT[0-9]+_)?LOAD[0-9]+[.]parquet$' as is_full_load
  from parquet.{{ sql_identifier(files_glob) }}
{%- endmacro %}

{% macro dms_commit_ts_format() -%}
  {#- How DMS writes its commit timestamp column (UTC). -#}
  yyyy-MM-dd HH:mm:ss.SSSSSS
{%- endmacro %}

{% macro dms_column_or_null(column, landed_columns) -%}
  {{- 'cast(' ~ sql_identifier(column) ~ ' as string)' if column in landed_columns else 'cast(null as string)' -}}
{%- endmacro %}

{% macro dms_row_problem() -%}
  {#- Why a landed row cannot be applied, or null. The first problem found is given.
      Needs the columns of dms_keyed_rows_sql, `has_document` and `commit_ts`. -#}
  case
    when has_document and not document_is_json
      then 'document is not valid JSON (Extended JSON object expected)'
    when document_key is null and document_id_kind is null
      then 'missing _id: the key column is null and the document has no _id'
    when document_id_kind = 'array'
      then concat('unsupported _id: an array (MongoDB does not allow arrays as _id): ', document_id_token)
    when key_problem is not null
      then key_problem
    when document_id is null
      then concat(
        'unsupported _id: not a value cdclake can key (see docs/key-identity.md): ',
        coalesce(document_id_token, document_key)
      )
    when op is not null and op not in ('I', 'U', 'D')
      then concat('unknown Op "', op, '"')
    when op is null and not is_full_load
      then 'missing Op on a CDC row'
    when commit_ts_text is null
      then 'missing commit timestamp'
    when commit_ts is null
      then concat('commit timestamp does not parse as {{ dms_commit_ts_format() }}: ', commit_ts_text)
    when coalesce(op, 'I') <> 'D' and not has_document
      then 'insert or update without a document (_doc is null or the file has no _doc column)'
    when document_key is not null
      and document_id_dms_text <> if(document_id_kind = 'object', lower(document_key), document_key)
      then concat('document _id ', document_id, ' disagrees with the key column ', document_key)
  end
{%- endmacro %}

{% macro cdc_record_applied_files(source_node, files, target_relation) %}
  {#- Recorded after the merge commits. A crash in between leaves the files unrecorded;
      the next run reads them again, and re-applying them is a no-op. -#}
  {% call statement('cdc_record_applied_files') -%}
    insert into {{ cdc_applied_files_relation() }}
    select
      {{ sql_string(source_node.unique_id) }}, file_path, cast(file_modified_at as timestamp), file_bytes, row_count,
      quarantine_reason, {{ sql_string(target_relation) }}, current_timestamp(), '{{ invocation_id }}'
    from values
      {%- for file in files %}
      ({{ sql_string(file.path) }}, {{ sql_string(file.modified_at) }}, {{ file.bytes }}, {{ file.rows }},
       {{ sql_string(file.problem) if file.problem else 'cast(null as string)' }}){{ ',' if not loop.last }}
      {%- endfor %}
      as files (file_path, file_modified_at, file_bytes, row_count, quarantine_reason)
  {%- endcall %}
{% endmacro %}

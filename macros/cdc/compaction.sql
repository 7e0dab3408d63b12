{#-
  Small files kept few as the applies go, so that a batch does not cost more after 50
  batches than after one (bench/README.md, (b)).

  Every apply adds a few small data files to its current-state table, and a deletion
  vector to nearly every data file it touches; each bookkeeping table gets a small file
  per model and run. A merge reads every file of its table, and each apply scans its
  partition of dms_applied_files: left to the nightly maintenance (cdclake maintain),
  a 10,000-event batch on a lake 60 batches old took 9.3 s, against 6.4-7.0 s after
  one batch. Here a model's apply bin-packs its own small files once there
  are enough of them: the table's, then its own partition of each bookkeeping table, so
  that models running side by side never rewrite the same files. The big files, and the
  deletes folded into them, stay the maintenance's.

  A compaction changes no row, and a table with too few small files is left untouched
  by Iceberg's planning alone (no data read, no commit).
-#}

{% macro cdc_small_files_setting() -%}
  {#- How many small files make a compaction, 0 for none. On Glue the table optimizers
      compact (infra/glue/table-optimizers.json): two compactions of one table would
      refuse each other's commits, so it is off there unless set. -#}
  {%- set name = 'cdc_compact_small_files_at (CDCLAKE_COMPACT_SMALL_FILES_AT)' -%}
  {%- set value = var('cdc_compact_small_files_at') | string | trim -%}
  {%- if value == '' -%}
    {{- return(0 if target.type == 'glue' else 16) -}}
  {%- endif -%}
  {%- if not modules.re.fullmatch('[0-9]+', value) or (value | int) == 1 -%}
    {{ exceptions.raise_compiler_error(
        name ~ ' is "' ~ value ~ '": set a number of files, at least 2, or 0 to compact only in the nightly maintenance') }}
  {%- endif -%}
  {{- return(value | int) -}}
{%- endmacro %}

{% macro cdc_compact_small_files(relation, source_node=none) %}
  {#- Bin-pack the files of `relation` smaller than 8 MB (of `source_node`'s partition
      only, when given) once there are the setting's number of them. Returns how many
      files were rewritten. Iceberg would also rewrite, whatever its size, any file with
      30 % of its rows deleted: after a big batch that is the whole table (4 s a model
      after 1,000,000 events), which is the nightly maintenance's work, so not here. -#}
  {%- set at = cdc_small_files_setting() -%}
  {%- if at == 0 -%}{{ return(0) }}{%- endif -%}
  {%- set where = '' if source_node is none else
      ', where => ' ~ sql_string('source_name = ' ~ sql_string(source_node.unique_id)) -%}
  {%- set rewritten = run_query(
      'call system.rewrite_data_files(table => ' ~ sql_string(relation.schema ~ '.' ~ relation.identifier) ~ where
      ~ ", options => map('min-file-size-bytes', '8388608', 'min-input-files', '" ~ at ~ "', "
      ~ "'delete-ratio-threshold', '1.0'))"
    ).rows[0][0] -%}
  {{ return(rewritten) }}
{% endmacro %}

{% macro cdc_compact_after_apply(source_node, target_relation) %}
  {#- After an apply: the table's small files; when there were enough to compact, the
      source's partitions of the bookkeeping tables too. They grow a file a run and the
      table one or two, so they are due at most half as often: asked only then, a run
      plans one compaction, not four. -#}
  {%- set rewritten = cdc_compact_small_files(target_relation) -%}
  {% if rewritten > 0 %}
    {%- set compacted = [] -%}
    {% for relation in cdc_bookkeeping_relations() %}
      {% do compacted.append(cdc_compact_small_files(relation, source_node)) %}
    {% endfor %}
    {{ log(target_relation ~ ": compacted " ~ rewritten ~ " small file(s), and " ~ (compacted | sum)
           ~ " of the bookkeeping tables", info=true) }}
  {% endif %}
{% endmacro %}

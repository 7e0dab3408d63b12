{#-
  Names are data, never code. Every path, file name, landing root, schema, database or
  collection name that reaches Spark SQL or a Hadoop glob goes through one of these:

    sql_string(text)          a SQL string literal holding exactly `text`
    sql_identifier(name)      a backticked identifier, or the path of `parquet.`...``
    hadoop_glob_literal(path) a glob matching exactly `path`
    hadoop_glob_naming(paths) one glob matching exactly `paths` (files read by name)

  and a name that cannot be made safe is refused by name (checked_path_name,
  checked_folder_name, checked_schema_name). cdclake/names.py is the Python twin of the
  glob escape and of the schema rule, for the reconciliation's own listing of landing.

  A file's path has one form everywhere it is stored or compared: the Hadoop path as
  Spark lists it (binaryFile's `path`: `file:/...` or `s3://...`, not URI-escaped).
  Spark gives the files it reads URI-escaped (`_metadata.file_path`, input_file_name():
  a space is %20, `{` is %7B, `%` is %25); canonical_file_path turns those into that form.
-#}

{% macro sql_string(text) -%}
  {#- Spark's string literals take backslash escapes (spark.sql.parser.escapedStringLiterals
      is false, its default): escape the backslash first, then the quote. -#}
  {{- return("'" ~ (text | string | replace('\\', '\\\\') | replace("'", "\\'")) ~ "'") -}}
{%- endmacro %}

{% macro sql_identifier(name) -%}
  {#- Inside backticks only the backtick is special; it is doubled. -#}
  {{- return('`' ~ (name | string | replace('`', '``')) ~ '`') -}}
{%- endmacro %}

{% macro hadoop_glob_literal(path) -%}
  {#- Hadoop's glob (GlobPattern) treats \ { } [ ] * ? and , specially, and honours a
      backslash before any of them: every path Spark reads or lists is globbed when it
      holds one of them, so each is escaped. -#}
  {{- return(modules.re.sub('([\\\\{}\\[\\]*?,])', '\\\\\\1', path)) -}}
{%- endmacro %}

{% macro hadoop_glob_naming(paths) -%}
  {#- One glob matching exactly `paths` (paths as Spark lists them) and nothing else: the
      parent of their common folder, then `{common/a,common/2026/11/26/b,...}`. Hadoop
      expands a `{...}` holding a '/' before matching (GlobExpander), and that expansion
      drops one backslash from each escaped character of the alternatives: so every
      alternative holds a '/', to be expanded always, and is escaped twice, once for the
      glob and once for the expansion. -#}
  {%- set split = [] -%}
  {%- for path in paths -%}{%- do split.append(path.split('/')) -%}{%- endfor -%}
  {%- set first = split[0] -%}
  {%- set ns = namespace(depth=0, same=true) -%}
  {%- for i in range(first | length - 1) -%}
    {%- for parts in split -%}
      {%- if ns.same and (parts | length <= i + 1 or parts[i] != first[i]) -%}{%- set ns.same = false -%}{%- endif -%}
    {%- endfor -%}
    {%- if ns.same -%}{%- set ns.depth = i + 1 -%}{%- endif -%}
  {%- endfor -%}
  {%- if ns.depth < 2 -%}
    {{ exceptions.raise_compiler_error("cannot name these files in one glob: they share no folder: " ~ paths[:3]) }}
  {%- endif -%}
  {%- set parent = first[:ns.depth - 1] | join('/') -%}
  {%- set alternatives = [] -%}
  {%- for path in paths -%}
    {%- do alternatives.append(modules.re.sub('([\\\\{},])', '\\\\\\1', hadoop_glob_literal(path[parent | length + 1:]))) -%}
  {%- endfor -%}
  {{- return(hadoop_glob_literal(parent) ~ '/{' ~ (alternatives | join(',')) ~ '}') -}}
{%- endmacro %}

{% macro canonical_file_path(uri) -%}
  {#- A file path Spark gives URI-escaped (`_metadata.file_path`, `_metadata.file_name`,
      input_file_name()) in the form binaryFile lists it. url_decode is form-decoding, where
      '+' means a space; in a URI '+' is itself, so it is protected first. -#}
  url_decode(replace(regexp_replace({{ uri }}, '^file:///', 'file:/'), '+', '%2B'))
{%- endmacro %}

{% macro checked_path_name(path, setting) -%}
  {#- A folder Spark lists with a glob (the landing root): Hadoop's glob cannot walk a folder
      whose name holds ':' (java.net.URISyntaxException), whatever the escaping; a scheme
      (s3://, file:/) is fine. -#}
  {%- set without_scheme = modules.re.sub('^[A-Za-z][A-Za-z0-9+.-]*:/', '/', path) -%}
  {%- if not path or ':' in without_scheme -%}
    {{ exceptions.raise_compiler_error(
        setting ~ '="' ~ path ~ '" cannot be listed by Spark: '
        ~ ("it is empty" if not path else "a folder name holds ':', which Hadoop's glob cannot read")
        ~ "; use a path without ':' after the scheme") }}
  {%- endif -%}
  {{- return(path) -}}
{%- endmacro %}

{% macro checked_folder_name(name, setting) -%}
  {#- One folder of the landing layout (a DMS database or collection). -#}
  {%- if not name or name in ('.', '..') or '/' in name or ':' in name -%}
    {{ exceptions.raise_compiler_error(
        setting ~ '="' ~ name ~ '" is not a usable landing folder name: it must be one non-empty '
        ~ "folder name, without '/' or ':' (Hadoop's glob cannot read ':')") }}
  {%- endif -%}
  {{- return(name) -}}
{%- endmacro %}

{% macro checked_schema_name(name) -%}
  {#- The schema (Iceberg namespace) is written bare in every relation, by dbt and by
      cdclake's Python: it is refused unless it is a plain identifier. -#}
  {%- if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', name | string) -%}
    {%- set settings = {'local': 'CDCLAKE_SCHEMA', 'glue': 'CDCLAKE_GLUE_DATABASE', 'emr': 'CDCLAKE_EMR_DATABASE'} -%}
    {{ exceptions.raise_compiler_error(
        settings.get(target.name, 'the schema of target ' ~ target.name) ~ '="' ~ name ~ '"'
        ~ " is not a usable schema name: use letters, digits and underscores, not starting with a digit") }}
  {%- endif -%}
  {{- return(name) -}}
{%- endmacro %}

{% macro generate_schema_name(custom_schema_name, node) -%}
  {#- dbt's default naming, with the schema checked: dbt calls this for every model while
      parsing, before anything reaches Spark. -#}
  {{- checked_schema_name(default__generate_schema_name(custom_schema_name, node) | trim) -}}
{%- endmacro %}

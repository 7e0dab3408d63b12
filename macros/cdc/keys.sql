{#-
  Key identity: which document a change row belongs to (rules in docs/key-identity.md).

  DMS's key column holds the `_id` as text, so `"1"` and `1`, or an ObjectId and the
  string of its hex, share a text. The key of a row is therefore the *typed* `_id`,
  taken from the document's Extended JSON and written as its key text (an Extended JSON
  value with numbers reduced to MongoDB's equality: int32 1, int64 1, 1.0 and
  Decimal128 1 are all `1`). cdclake.reconcile.keys.key_json writes the same text from
  a BSON value; tests/python/test_key_identity.py pins the two together for every type.

  The key is computed from Spark's text of the `_id` token plus its JSON kind, because
  get_json_object unquotes strings: the kind says what the text was.
-#}

{% macro ejson_id_kind(json) -%}
  {#- The JSON kind of the top-level `_id` of `json`. DMS writes MongoDB's documents,
      whose `_id` comes first, so its first character says the kind; other layouts
      take the slower test of parsing the field as each type. -#}
  case regexp_extract({{ json }}, '^\\s*\\{\\s*"_id"\\s*:\\s*(.)', 1)
    when '"' then 'string'
    when '{' then 'object'
    when '[' then 'array'
    when 't' then 'boolean'
    when 'f' then 'boolean'
    when 'n' then 'null'
    when '' then {{ ejson_field_kind(json, '_id') }}
    else 'number'
  end
{%- endmacro %}

{% macro ejson_field_kind(json, field) -%}
  {#- The JSON kind of a top-level field: object, array, number, boolean, string, null,
      or null when the field is absent. -#}
  case
    when from_json({{ json }}, 'struct<`{{ field }}`: map<string, string>>')['{{ field }}'] is not null then 'object'
    when from_json({{ json }}, 'struct<`{{ field }}`: array<string>>')['{{ field }}'] is not null then 'array'
    when from_json(
        {{ json }}, 'struct<`{{ field }}`: double>', map('allowNonNumericNumbers', 'false')
      )['{{ field }}'] is not null then 'number'
    when from_json({{ json }}, 'struct<`{{ field }}`: boolean>')['{{ field }}'] is not null then 'boolean'
    when get_json_object({{ json }}, '$.{{ field }}') is not null then 'string'
    when array_contains(json_object_keys({{ json }}), '{{ field }}') then 'null'
  end
{%- endmacro %}

{% macro ejson_field_key(json, field) -%}
  {#- The key text of a top-level field (a foreign key in a mart), by the same rule as `_id`. -#}
  {{ ejson_key(ejson_field_kind(json, field), "get_json_object(" ~ json ~ ", '$." ~ field ~ "')") }}
{%- endmacro %}

{% macro ejson_key(kind, token) -%}
  {#- The key text of a value given as its JSON kind and Spark's text of it; null when the
      value cannot be a key (an array, a wrapper that does not parse). -#}
  case {{ kind }}
    when 'string' then {{ json_string(token) }}
    when 'boolean' then {{ token }}
    when 'null' then 'null'
    when 'number' then
      case
        when {{ token }} rlike '^-?[0-9]+$' and cast({{ token }} as bigint) is not null
          then cast(cast({{ token }} as bigint) as string)
        else {{ ejson_double_key('cast(' ~ token ~ ' as double)') }}
      end
    when 'object' then {{ ejson_object_key(token) }}
  end
{%- endmacro %}

{% macro json_string(text) -%}
  {#- A string as a JSON string literal, escaped as Spark's JSON writer escapes it. `(?s)`:
      Java's `.` stops at U+0085, U+2028 and U+2029, which the writer leaves unescaped. -#}
  regexp_extract(to_json(array({{ text }})), '(?s)^\\[(.*)\\]$', 1)
{%- endmacro %}

{% macro ejson_double_key(value) -%}
  {#- An integral double in int64's range is that integer (1.0 is the key 1); any other
      double is written exactly, as Java's hexadecimal form (NaN, Infinity as words; `%a`
      is Double.toHexString, and unlike reflect() it lets Spark generate code): a decimal
      rendering would depend on the JVM's shortest-digits algorithm. -#}
  case
    when {{ value }} is null then null
    when abs({{ value }}) < 9.223372036854775807E18 and {{ value }} = floor({{ value }})
      then cast(cast({{ value }} as bigint) as string)
    else concat('{"$numberDouble":"', format_string('%a', {{ value }}), '"}')
  end
{%- endmacro %}

{% macro ejson_object_key(token) -%}
  {#- An object `_id`: an Extended JSON wrapper (ObjectId, number, date, binary, …) or an
      embedded document, whose key is its compact text with field order kept and int32 /
      int64 wrappers as plain integers. -#}
  {%- set keys = 'json_object_keys(' ~ token ~ ')' -%}
  {%- set inner = "get_json_object(" ~ token ~ ", '$." -%}
  case
    when {{ keys }} = array('$oid') and {{ inner }}$oid') rlike '^[0-9a-fA-F]{24}$'
      then concat('{"$oid":"', lower({{ inner }}$oid')), '"}')
    when {{ keys }} in (array('$numberInt'), array('$numberLong'))
      then cast(cast(coalesce({{ inner }}$numberInt'), {{ inner }}$numberLong')) as bigint) as string)
    when {{ keys }} = array('$numberDouble')
      then {{ ejson_double_key('cast(' ~ inner ~ "$numberDouble') as double)") }}
    when {{ keys }} = array('$numberDecimal')
      then {{ ejson_decimal_key(inner ~ "$numberDecimal')") }}
    when {{ keys }} = array('$date')
      then concat('{"$date":{"$numberLong":"', cast(coalesce(
        cast({{ inner }}$date.$numberLong') as bigint),
        case when {{ inner }}$date') rlike '^-?[0-9]+$' then cast({{ inner }}$date') as bigint) end,
        unix_millis(cast({{ inner }}$date') as timestamp))
      ) as string), '"}}')
    when {{ keys }} = array('$binary') and {{ inner }}$binary.base64') is not null
      then {{ ejson_binary_key(inner ~ "$binary.base64')", inner ~ "$binary.subType')") }}
    when array_sort({{ keys }}) = array('$binary', '$type')
      then {{ ejson_binary_key(inner ~ "$binary')", inner ~ "$type')") }}
    when {{ keys }} = array('$uuid') and {{ inner }}$uuid') rlike '^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$'
      then {{ ejson_binary_key("base64(unhex(replace(" ~ inner ~ "$uuid'), '-', '')))", "'04'") }}
    when {{ keys }} in (array('$minKey'), array('$maxKey'))
      then {{ token }}
    when {{ keys }} = array('$symbol')
      then {{ json_string(inner ~ "$symbol')") }}
    when {{ keys }}[0] in ('$oid', '$numberInt', '$numberLong', '$numberDouble', '$numberDecimal', '$date', '$binary', '$uuid')
      then null
    else regexp_replace({{ token }}, '\\{"\\$number(Int|Long)":"(-?[0-9]+)"\\}', '$2')
  end
{%- endmacro %}

{% macro ejson_decimal_key(text) -%}
  {#- A Decimal128 that is an integer in int64's range is that integer; any other is
      written as its digits without trailing zeros and an exponent ("15E-1" for 1.50). -#}
  {%- set parts = "regexp_extract(" ~ text ~ ", '^(-?)([0-9]*)[.]?([0-9]*)(?:[eE]([-+]?[0-9]+))?$', " -%}
  {%- set digits = "trim(leading '0' from concat(" ~ parts ~ "2), " ~ parts ~ "3)))" -%}
  {%- set significant = "trim(trailing '0' from " ~ digits ~ ")" -%}
  {%- set exponent = (
      "(coalesce(cast(nullif(" ~ parts ~ "4), '') as int), 0) - length(" ~ parts ~ "3)"
      ~ ") + length(" ~ digits ~ ") - length(" ~ significant ~ "))") -%}
  case
    when {{ text }} in ('NaN', '-NaN') then '{"$numberDecimal":"NaN"}'
    when {{ text }} in ('Infinity', 'Inf') then '{"$numberDecimal":"Infinity"}'
    when {{ text }} in ('-Infinity', '-Inf') then '{"$numberDecimal":"-Infinity"}'
    when {{ text }} not rlike '^-?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$' then null
    when {{ digits }} = '' then '0'
    when {{ exponent }} >= 0 and length({{ significant }}) + {{ exponent }} <= 19
      and cast(concat({{ significant }}, repeat('0', {{ exponent }})) as decimal(20, 0)) < 9223372036854775808
      then concat({{ parts }}1), {{ significant }}, repeat('0', {{ exponent }}))
    else concat('{"$numberDecimal":"', {{ parts }}1), {{ significant }}, 'E', cast({{ exponent }} as string), '"}')
  end
{%- endmacro %}

{% macro ejson_binary_key(base64_text, subtype_text) -%}
  concat(
    '{"$binary":{"base64":"', base64(unbase64({{ base64_text }})),
    '","subType":"', lower(lpad({{ subtype_text }}, 2, '0')), '"}}'
  )
{%- endmacro %}

{% macro dms_text_of_key(kind, token) -%}
  {#- The text DMS's key column holds for a typed `_id`, where that is known: the string
      itself, an ObjectId's hex, an integer's digits; null for other types. -#}
  case
    when {{ kind }} = 'string' then {{ token }}
    when {{ kind }} = 'object' and json_object_keys({{ token }}) = array('$oid')
      then lower(get_json_object({{ token }}, '$.$oid'))
    when {{ kind }} = 'object' and json_object_keys({{ token }}) in (array('$numberInt'), array('$numberLong'))
      then coalesce(get_json_object({{ token }}, '$.$numberInt'), get_json_object({{ token }}, '$.$numberLong'))
    when {{ kind }} = 'number' and {{ token }} rlike '^-?[0-9]+$' then {{ token }}
  end
{%- endmacro %}

{% macro ejson_id_leading(json) -%}
  {#- The `_id` at the very start of `json` when it is a common key (an ObjectId, a string
      with nothing to escape, an integer), as written there; '' otherwise. Java's regex
      reads a copy of the text: only its first 256 characters are copied, which hold any
      ObjectId or integer key (a longer string key takes the general rules, same key). -#}
  regexp_extract(
    left({{ json }}, 256),
    '^\\s*\\{\\s*"_id"\\s*:\\s*(\\{\\s*"\\$oid"\\s*:\\s*"[0-9a-fA-F]{24}"\\s*\\}|"[^"\\\\\\x00-\\x1f]*"|0|-?[1-9][0-9]{0,17})\\s*[,}]',
    1
  )
{%- endmacro %}

{% macro ejson_id_parts(json, leading=none) -%}
  {#- The top-level `_id` of `json` as a struct: its JSON `kind`, Spark's text of it
      (`token`, what get_json_object gives), its key (`typed_id`, null when it cannot be
      a key) and the text DMS's key column holds for it (`dms_text`, where known).

      DMS writes MongoDB's documents, whose `_id` comes first. The common keys are read
      from the document's start (`leading`, ejson_id_leading: pass it as a column so that
      Spark computes it once per row); any other `_id`, or one not first, by the general
      rules (ejson_key). Both ways give the same key: tests/python/test_key_identity.py
      checks every type both ways. Lambdas bind a value once where no column can (they
      run interpreted, so the common keys take none). -#}
  {%- if leading is none -%}
  transform(array({{ ejson_id_leading(json) }}), leading -> {{ ejson_id_parts(json, 'leading') }})[0]
  {%- else -%}
  {#- An ObjectId's hex sits between the last two quotes of `{"$oid": "…"}`. -#}
  {%- set hex = "substring_index(substring_index(" ~ leading ~ ", '\"', -2), '\"', 1)" -%}
  case
    when left({{ leading }}, 1) = '"' then named_struct(
      'kind', 'string', 'token', substr({{ leading }}, 2, length({{ leading }}) - 2),
      'typed_id', {{ leading }}, 'dms_text', substr({{ leading }}, 2, length({{ leading }}) - 2)
    )
    when left({{ leading }}, 1) = '{' then named_struct(
      'kind', 'object', 'token', concat('{"$oid":"', {{ hex }}, '"}'),
      'typed_id', concat('{"$oid":"', lower({{ hex }}), '"}'), 'dms_text', lower({{ hex }})
    )
    when {{ leading }} <> '' then named_struct(
      'kind', 'number', 'token', {{ leading }}, 'typed_id', {{ leading }}, 'dms_text', {{ leading }}
    )
    else transform(
      array(named_struct('kind', {{ ejson_id_kind(json) }}, 'token', get_json_object({{ json }}, '$._id'))),
      id -> named_struct(
        'kind', id.kind, 'token', id.token,
        'typed_id', {{ ejson_key('id.kind', 'id.token') }},
        'dms_text', {{ dms_text_of_key('id.kind', 'id.token') }}
      )
    )[0]
  end
  {%- endif -%}
{%- endmacro %}

{% macro dms_typed_rows_sql(landed_sql) -%}
  {#- The landed rows with what their own document says of its `_id` (ejson_id_parts:
      `document_id_kind`, `document_id_token`, `typed_id`, `document_id_dms_text`, all null
      when there is no document) and whether the document parses (`document_is_json`:
      only the row checks ask, as it costs a parse of the whole document). -#}
  select
    parts.*,
    id_parts.kind as document_id_kind,
    id_parts.token as document_id_token,
    id_parts.typed_id as typed_id,
    id_parts.dms_text as document_id_dms_text,
    json_object_keys(document_json) is not null as document_is_json
  from (
    select
      landed.*,
      case when document_json is not null then {{ ejson_id_parts('document_json', 'id_leading') }} end as id_parts
    from (
      select landed.*, {{ ejson_id_leading('document_json') }} as id_leading
      from ({{ landed_sql }}) as landed
    ) as landed
  ) as parts
{%- endmacro %}

{% macro dms_keyed_rows_sql(typed_relation, resolved_relation=none) -%}
  {#- The rows of `typed_relation` (dms_typed_rows_sql) with their key, `document_id`, and
      `key_problem`: a row whose document carries no `_id` takes the key resolved for it
      in `resolved_relation` (dms_resolved_key_texts_sql), or without one the key its
      text stands for when no other key has it (dms_default_key; cdc_keys_are_default
      says when that is the resolution). -#}
  select {{ '/*+ BROADCAST(resolved) */' if resolved_relation is not none }}
    typed.*,
    {%- if resolved_relation is none %}
    if(typed.document_id_kind is null, {{ dms_default_key('typed.document_key') }}, typed.typed_id) as document_id,
    cast(null as string) as key_problem
  from {{ typed_relation }} as typed
    {%- else %}
    if(typed.document_id_kind is null, resolved.document_id, typed.typed_id) as document_id,
    resolved.key_problem
  from {{ typed_relation }} as typed
  left join {{ resolved_relation }} as resolved
    on typed.source_path = resolved.source_path and typed.source_row = resolved.source_row
    {%- endif %}
{%- endmacro %}

{% macro dms_resolved_key_texts_sql(typed_relation, target_relation) -%}
  {#- The key of each row of `typed_relation` whose document carries no `_id` (a delete
      DMS landed with the key text only, or `_doc` written without `_id`): the one key that
      text stands for among the keys already known (the table's, `target_relation`, and
      this batch's), a live one first; with none known, an ObjectId when the text is 24
      hex digits, else the string. When several keys share the text, `key_problem` says
      so and the row is quarantined. Only these rows meet the batch and the table. -#}
  {%- set texts_to_resolve -%}
    select distinct document_key from {{ typed_relation }}
    where document_id_kind is null and document_key is not null
  {%- endset %}
  select /*+ BROADCAST(keys_by_text) */
    keyed.source_path,
    keyed.source_row,
    case
      when keys_by_text.known = 1 then keys_by_text.any_id
      when keys_by_text.live = 1 then keys_by_text.live_id
      when keys_by_text.known is null then {{ dms_default_key('keyed.document_key') }}
    end as document_id,
    case
      when keys_by_text.known > 1 and keys_by_text.live <> 1
        then concat(
          'ambiguous key text "', keyed.document_key, '": the document carries no _id and ',
          cast(keys_by_text.known as string), ' keys share that text (', keys_by_text.examples, ')'
        )
    end as key_problem
  from {{ typed_relation }} as keyed
  left join (
    -- one aggregation: collect_set counts each key once (a count(distinct) of two
    -- expressions would expand every row and aggregate twice)
    select
      key_text,
      size(collect_set(known_id)) as known,
      size(collect_set(if(is_live, known_id, null))) as live,
      min(known_id) as any_id,
      min(if(is_live, known_id, null)) as live_id,
      concat_ws(', ', slice(array_sort(collect_set(known_id)), 1, 5)) as examples
    from (
      select /*+ BROADCAST(texts) */
        batch.document_key as key_text, batch.typed_id as known_id, coalesce(batch.op, 'I') <> 'D' as is_live
      from {{ typed_relation }} as batch
      left semi join ({{ texts_to_resolve }}) as texts on batch.document_key = texts.document_key
      where
        batch.typed_id is not null
        and batch.document_is_json
        -- a row whose key column disagrees with its document names no key by that text
        and coalesce(
          batch.document_id_dms_text = if(batch.document_id_kind = 'object', lower(batch.document_key), batch.document_key),
          true
        )
      {%- if target_relation is not none %}
      union all
      select /*+ BROADCAST(texts) */ current_row.dms_key_text, current_row._id, not current_row.is_deleted
      from {{ target_relation }} as current_row
      left semi join ({{ texts_to_resolve }}) as texts on current_row.dms_key_text = texts.document_key
      {%- endif %}
    ) as known_keys
    group by key_text
  ) as keys_by_text
    on keyed.document_key = keys_by_text.key_text
  where keyed.document_id_kind is null
{%- endmacro %}

{% macro dms_default_key(text) -%}
  {#- The key a DMS key text stands for when no known key has that text: an ObjectId when
      it is 24 hex digits, else the string; null for no text. -#}
  case
    when {{ text }} rlike '^[0-9a-fA-F]{24}$' then concat('{"$oid":"', lower({{ text }}), '"}')
    when {{ text }} is not null then {{ json_string(text) }}
  end
{%- endmacro %}

{% macro dms_key_is_not_default(key, text) -%}
  {#- Whether `key`, named by the DMS key text `text`, is another key than the one the text
      stands for by default: anything but an ObjectId or a string that is not 24 hex
      digits. A string key that names a text is that text (a row whose key column
      disagrees with its document names no key), so its text is not parsed again. -#}
  coalesce(
    not (
      startswith({{ key }}, '{"$oid":')
      or (startswith({{ key }}, '"') and not {{ text }} rlike '^[0-9a-fA-F]{24}$')
    ),
    false
  )
{%- endmacro %}

{% macro cdc_keys_are_default(target_relation) %}
  {#- Whether every key of `target_relation` is the default key of its DMS text. Then,
      and when the batch's keys are too (counted in cdc_stage_new_files), each text has
      at most one known key, its default one, so dms_resolved_key_texts_sql would resolve
      every text to its default key: the join with the table is skipped.
      tests/python/test_key_resolution.py checks that on generated tables and batches. -#}
  {{ return(run_query(cdc_keys_not_default_sql(target_relation)).rows | length == 0) }}
{% endmacro %}

{% macro cdc_keys_not_default_sql(target_relation) -%}
  {#- A row of `target_relation` whose key is not the default key of its text, if any.
      ObjectId keys always are (their text is their hex): excluding them by a prefix lets
      Iceberg skip every data file holding ObjectIds only, by the bounds of `_id`. -#}
  select 1 from {{ target_relation }}
  where not startswith(_id, '{"$oid":') and {{ dms_key_is_not_default('_id', 'dms_key_text') }}
  limit 1
{%- endmacro %}

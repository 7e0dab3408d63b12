{#-
  Typed values from MongoDB Extended JSON, in SQL.

  DMS writes `_doc` as Extended JSON, canonical ({"$numberInt": "5"}), relaxed (5) or
  plain. A model first splits a document into its top-level fields with ejson_fields
  (one JSON parse per document), then turns each field's JSON text into a typed value
  with the macros below, which accept every one of those spellings.
-#}

{% macro ejson_fields(json, fields) -%}
  from_json({{ json }}, '{% for field in fields %}`{{ field }}` string{{ ", " if not loop.last }}{% endfor %}')
{%- endmacro %}

{% macro ejson_number_text(value) -%}
  coalesce(
    get_json_object({{ value }}, '$.$numberDecimal'),
    get_json_object({{ value }}, '$.$numberLong'),
    get_json_object({{ value }}, '$.$numberInt'),
    get_json_object({{ value }}, '$.$numberDouble'),
    {{ value }}
  )
{%- endmacro %}

{% macro ejson_decimal(value, precision=18, scale=2) -%}
  {#- Null, and so listed in uncast_fields, when the value has more decimals than the scale:
      a cast alone would round it, and a rounded amount is a wrong amount. -#}
  {%- set text = ejson_number_text(value) -%}
  {%- set typed = 'cast(' ~ text ~ ' as decimal(' ~ precision ~ ', ' ~ scale ~ '))' -%}
  case when cast({{ text }} as decimal(38, 18)) = {{ typed }} then {{ typed }} end
{%- endmacro %}

{% macro ejson_int(value) -%}
  cast({{ ejson_number_text(value) }} as int)
{%- endmacro %}

{% macro ejson_bigint(value) -%}
  cast({{ ejson_number_text(value) }} as bigint)
{%- endmacro %}

{% macro ejson_double(value) -%}
  cast({{ ejson_number_text(value) }} as double)
{%- endmacro %}

{% macro ejson_timestamp(value) -%}
  {#- {"$date": {"$numberLong": "-86400000"}} (canonical, and relaxed before 1970 or
      after 9999), {"$date": "2026-11-26T10:00:00.123Z"} (relaxed), {"$date": 1234}. -#}
  coalesce(
    timestamp_millis(cast(get_json_object({{ value }}, '$.$date.$numberLong') as bigint)),
    timestamp_millis(cast(get_json_object({{ value }}, '$.$date') as bigint)),
    cast(get_json_object({{ value }}, '$.$date') as timestamp)
  )
{%- endmacro %}

{% macro ejson_array(value) -%}
  {#- The elements of a JSON array, each as its JSON text. -#}
  from_json({{ value }}, 'array<string>')
{%- endmacro %}

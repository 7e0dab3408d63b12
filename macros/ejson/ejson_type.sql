{% macro ejson_type(value) -%}
  {#- The BSON type of one field's Extended JSON text (from from_json to map<string,string>).
      Wrapped values are exact; in relaxed JSON a bare number, boolean and string all
      read as 'string', because the map has already unquoted strings. -#}
  case
    when {{ value }} is null then 'null'
    when {{ value }} like '{"$oid"%' then 'objectId'
    when {{ value }} like '{"$date"%' then 'date'
    when {{ value }} like '{"$numberDecimal"%' then 'decimal'
    when {{ value }} like '{"$numberLong"%' then 'long'
    when {{ value }} like '{"$numberInt"%' then 'int'
    when {{ value }} like '{"$numberDouble"%' then 'double'
    when {{ value }} like '{"$binary"%' then 'binData'
    when {{ value }} like '{"$%' then 'extendedJson'
    when startswith({{ value }}, '{') then 'object'
    when startswith({{ value }}, '[') then 'array'
    else 'string'
  end
{%- endmacro %}

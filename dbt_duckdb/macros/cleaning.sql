{#- Cleaning and typing helpers shared by every int_<table>__cleaned model. -#}

{#- Trimmed text; NULL for the null tokens '', 'none', 'null', 'n/a', 'nan' (any case, after trim).
    Written so the common case (no surrounding spaces, longer than a token) costs two LIKE tests and
    a length check: trimming every value of every column was most of the cleaning time. -#}
{% macro clean_string(column) -%}
  case
    when {{ column }} like ' %' or {{ column }} like '% ' then
      case when lower(trim({{ column }})) in ('', 'none', 'null', 'n/a', 'nan') then null else trim({{ column }}) end
    when strlen({{ column }}) <= 4 and lower({{ column }}) in ('', 'none', 'null', 'n/a', 'nan') then null
    else {{ column }}
  end
{%- endmacro %}


{#- clean_string, lower-cased (enums are compared after this normalisation). -#}
{% macro clean_lower(column) -%}
  lower({{ clean_string(column) }})
{%- endmacro %}


{#- ISO-8601 text (with or without an offset) -> naive TIMESTAMP in UTC; NULL when it does not parse. -#}
{% macro to_utc_timestamp(expression) -%}
  timezone('UTC', try_cast({{ expression }} as timestamptz))
{%- endmacro %}


{#- Something@domain.tld, no spaces. -#}
{% macro is_email(column) -%}
  coalesce(regexp_full_match({{ column }}, '[^@\s]+@[^@\s]+\.[^@\s]+'), false)
{%- endmacro %}

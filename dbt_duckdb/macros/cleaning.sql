{#- Cleaning and typing helpers shared by every int_<table>__cleaned model. -#}

{#- Trimmed text; NULL for the null tokens '', 'none', 'null', 'n/a', 'nan' (any case, after trim).
    Written so the common case (no surrounding spaces, longer than a token) costs two LIKE tests and
    a length check: trimming every value of every column was most of the cleaning time. -#}
{% macro clean_string(column) -%}
  {{ return(adapter.dispatch('clean_string', 'ecomlake')(column)) }}
{%- endmacro %}

{% macro default__clean_string(column) -%}
  case
    when {{ column }} like ' %' or {{ column }} like '% ' then
      case when lower(trim({{ column }})) in ('', 'none', 'null', 'n/a', 'nan') then null else trim({{ column }}) end
    when strlen({{ column }}) <= 4 and lower({{ column }}) in ('', 'none', 'null', 'n/a', 'nan') then null
    else {{ column }}
  end
{%- endmacro %}

{#- Spark: length() counts characters (DuckDB's strlen counts bytes); the tokens are ASCII, so the
    short-cut keeps the same rows. -#}
{% macro spark__clean_string(column) -%}
  case
    when {{ column }} like ' %' or {{ column }} like '% ' then
      case when lower(trim({{ column }})) in ('', 'none', 'null', 'n/a', 'nan') then null else trim({{ column }}) end
    when length({{ column }}) <= 4 and lower({{ column }}) in ('', 'none', 'null', 'n/a', 'nan') then null
    else {{ column }}
  end
{%- endmacro %}


{#- clean_string, lower-cased (enums are compared after this normalisation). -#}
{% macro clean_lower(column) -%}
  lower({{ clean_string(column) }})
{%- endmacro %}


{#- ISO-8601 text (with or without an offset) -> naive TIMESTAMP in UTC; NULL when it does not parse. -#}
{% macro to_utc_timestamp(expression) -%}
  {{ return(adapter.dispatch('to_utc_timestamp', 'ecomlake')(expression)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(expression) -%}
  timezone('UTC', try_cast({{ expression }} as timestamptz))
{%- endmacro %}

{#- Spark: an instant (the session time zone is UTC) as its UTC wall time. -#}
{% macro spark__to_utc_timestamp(expression) -%}
  cast(try_cast({{ expression }} as timestamp_ltz) as timestamp_ntz)
{%- endmacro %}


{#- Something@domain.tld, no spaces. -#}
{% macro is_email(column) -%}
  coalesce({{ ecom_full_match(column, '[^@\s]+@[^@\s]+\.[^@\s]+') }}, false)
{%- endmacro %}

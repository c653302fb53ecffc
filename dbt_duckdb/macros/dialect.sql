{#- SQL that differs between the adapters of this project: DuckDB (target local, `default__`) and
    Spark SQL (target spark, dbt-spark, `spark__`). The generated models call these instead of a
    dialect's own syntax; each `default__` macro returns exactly the DuckDB SQL the models held
    before, so the DuckDB build is unchanged. -#}

{#- A SQL type name of the models (DuckDB's names) in the adapter's dialect: Spark has no bare VARCHAR. -#}
{% macro ecom_sql_type(name) -%}
  {{ return(adapter.dispatch('ecom_sql_type', 'ecomlake')(name)) }}
{%- endmacro %}
{% macro default__ecom_sql_type(name) -%}{{ name }}{%- endmacro %}
{% macro spark__ecom_sql_type(name) -%}{{ 'string' if (name | upper) == 'VARCHAR' else name }}{%- endmacro %}


{#- `select * <this> (a, b)`: every column but a and b. -#}
{% macro ecom_star_exclude() -%}
  {{ return(adapter.dispatch('ecom_star_exclude', 'ecomlake')()) }}
{%- endmacro %}
{% macro default__ecom_star_exclude() -%}exclude{%- endmacro %}
{% macro spark__ecom_star_exclude() -%}except{%- endmacro %}


{#- `<this> other using (k)`: rows with a match in other, once each. -#}
{% macro ecom_semi_join() -%}
  {{ return(adapter.dispatch('ecom_semi_join', 'ecomlake')()) }}
{%- endmacro %}
{% macro default__ecom_semi_join() -%}semi join{%- endmacro %}
{% macro spark__ecom_semi_join() -%}left semi join{%- endmacro %}


{#- `<this>(a, b, c)`: an ordered tuple (compared field by field; max() takes the greatest). -#}
{% macro ecom_row() -%}
  {{ return(adapter.dispatch('ecom_row', 'ecomlake')()) }}
{%- endmacro %}
{% macro default__ecom_row() -%}row{%- endmacro %}
{% macro spark__ecom_row() -%}struct{%- endmacro %}


{% macro ecom_starts_with(column, prefix) -%}
  {{ return(adapter.dispatch('ecom_starts_with', 'ecomlake')(column, prefix)) }}
{%- endmacro %}
{% macro default__ecom_starts_with(column, prefix) -%}starts_with({{ column }}, {{ sql_string(prefix) }}){%- endmacro %}
{% macro spark__ecom_starts_with(column, prefix) -%}startswith({{ column }}, {{ sql_string(prefix) }}){%- endmacro %}


{#- A DOUBLE as DECIMAL(p,s), NULL when it does not fit (or NaN/inf). DuckDB rounds x * 10^s, computed
    as a double, half away from zero (1.005 -> 1.00, 2.675 -> 2.68); Spark's own cast rounds the
    double's shortest decimal text instead (1.005 -> 1.01), so Spark computes DuckDB's way: Spark's
    round() of a double is half-up on that same product. -#}
{% macro ecom_try_cast_double(column, decimal_type) -%}
  {{ return(adapter.dispatch('ecom_try_cast_double', 'ecomlake')(column, decimal_type)) }}
{%- endmacro %}
{% macro default__ecom_try_cast_double(column, decimal_type) -%}try_cast({{ column }} as {{ decimal_type }}){%- endmacro %}
{% macro spark__ecom_try_cast_double(column, decimal_type) -%}
  {%- set scale = (decimal_type.split(',')[1].rstrip(')').strip()) | int -%}
  try_cast(try_cast(round({{ column }} * 1e{{ scale }}D) as decimal(38,0)) / {{ 10 ** scale }} as {{ decimal_type }})
{%- endmacro %}


{#- The arrived texts of a quarantined row as one JSON object {column: text}, nulls left out; NULL
    when every one is null. Key order and spacing may differ between adapters: compare parsed. -#}
{% macro ecom_raw_text(columns) -%}
  {{ return(adapter.dispatch('ecom_raw_text', 'ecomlake')(columns)) }}
{%- endmacro %}
{% macro default__ecom_raw_text(columns) -%}
  nullif(cast(json_merge_patch('{}', json_object({% for n in columns %}'{{ n }}', {{ n }}__arrived{{ ', ' if not loop.last }}{% endfor %})) as varchar), '{}')
{%- endmacro %}
{% macro spark__ecom_raw_text(columns) -%}
  nullif(to_json(named_struct({% for n in columns %}'{{ n }}', {{ n }}__arrived{{ ', ' if not loop.last }}{% endfor %})), '{}')
{%- endmacro %}


{#- One row per code of a '|'-joined list (a table function in the select list). -#}
{% macro ecom_split_codes(column) -%}
  {{ return(adapter.dispatch('ecom_split_codes', 'ecomlake')(column)) }}
{%- endmacro %}
{% macro default__ecom_split_codes(column) -%}unnest(string_split({{ column }}, '|')){%- endmacro %}
{% macro spark__ecom_split_codes(column) -%}explode(split({{ column }}, '[|]')){%- endmacro %}


{#- One row per value of a list of strings. -#}
{% macro ecom_unnest_values(values) -%}
  {{ return(adapter.dispatch('ecom_unnest_values', 'ecomlake')(values)) }}
{%- endmacro %}
{% macro default__ecom_unnest_values(values) -%}unnest([{% for c in values %}'{{ c }}'{{ ', ' if not loop.last }}{% endfor %}]){%- endmacro %}
{% macro spark__ecom_unnest_values(values) -%}explode(array({% for c in values %}'{{ c }}'{{ ', ' if not loop.last }}{% endfor %})){%- endmacro %}


{#- `expression` matches `pattern` (a regular expression) as a whole; NULL for NULL. -#}
{% macro ecom_full_match(expression, pattern) -%}
  {{ return(adapter.dispatch('ecom_full_match', 'ecomlake')(expression, pattern)) }}
{%- endmacro %}
{% macro default__ecom_full_match(expression, pattern) -%}regexp_full_match({{ expression }}, '{{ pattern }}'){%- endmacro %}
{#- Java regex: anchored with \A and \z ($ would also match before a final newline); Spark's string
    literals unescape backslashes, so they are doubled. -#}
{% macro spark__ecom_full_match(expression, pattern) -%}regexp_like({{ expression }}, '{{ ('\\A(?:' ~ pattern ~ ')\\z').replace('\\', '\\\\') }}'){%- endmacro %}

{#- Every var the project reads, with the default a hand run from dbt_duckdb/ uses.
    ecomlake's runner passes all of them with --vars (absolute paths from Settings). -#}

{% macro ecom_var(name) %}
  {%- set defaults = {
      'bronze_root': env_var('BRONZE_BASE_PATH', '../data/bronze'),
      'silver_root': env_var('SILVER_BASE_PATH', '../data/silver/base'),
      'quarantine_root': env_var('SILVER_QUARANTINE_PATH', env_var('SILVER_BASE_PATH', '../data/silver/base') ~ '/quarantine'),
      'dims_root': env_var('SILVER_DIMS_PATH', '../data/silver/dims'),
      'run_date': env_var('ECOM_RUN_DATE', '2023-01-01'),
      'run_id': env_var('RUN_ID', 'manual'),
      'run_ts': '',
      'max_future_skew_hours': 24,
      'dims_snapshot_dt': '',
      'parent_source': 'run',
      'published_through_run_date': false,
  } -%}
  {%- if name not in defaults -%}
    {{ exceptions.raise_compiler_error("unknown ecomlake var '" ~ name ~ "'") }}
  {%- endif -%}
  {{ return(var(name, defaults[name])) }}
{% endmacro %}


{% macro run_id_literal() -%}
  cast({{ sql_string(ecom_var('run_id')) }} as {{ ecom_sql_type('varchar') }})
{%- endmacro %}


{#- When the row was quarantined, UTC. The runner passes one timestamp per run. -#}
{% macro quarantine_timestamp() -%}
  {{ return(adapter.dispatch('quarantine_timestamp', 'ecomlake')()) }}
{%- endmacro %}

{% macro default__quarantine_timestamp() -%}
  {%- set ts = ecom_var('run_ts') -%}
  {%- if ts -%} cast({{ sql_string(ts) }} as timestamp)
  {%- else -%} cast(timezone('UTC', current_timestamp) as timestamp)
  {%- endif -%}
{%- endmacro %}

{#- Spark: TIMESTAMP is TIMESTAMP_NTZ (profile), the session time zone UTC. -#}
{% macro spark__quarantine_timestamp() -%}
  {%- set ts = ecom_var('run_ts') -%}
  {%- if ts -%} cast({{ sql_string(ts) }} as timestamp)
  {%- else -%} cast(current_timestamp() as timestamp_ntz)
  {%- endif -%}
{%- endmacro %}


{#- Latest acceptable business timestamp: end of the run date plus the allowed clock skew. -#}
{% macro future_limit() -%}
  {{ return(adapter.dispatch('future_limit', 'ecomlake')()) }}
{%- endmacro %}

{% macro default__future_limit() -%}
  (cast({{ sql_string(ecom_var('run_date')) }} as timestamp) + interval 1 day + to_hours(cast({{ ecom_var('max_future_skew_hours') }} as bigint)))
{%- endmacro %}


{% macro spark__future_limit() -%}
  (cast({{ sql_string(ecom_var('run_date')) }} as timestamp) + interval 1 day + make_dt_interval(0, cast({{ ecom_var('max_future_skew_hours') }} as int), 0, 0))
{%- endmacro %}


{% macro sql_string(value) -%}
  {{ return(adapter.dispatch('sql_string', 'ecomlake')(value)) }}
{%- endmacro %}

{% macro default__sql_string(value) -%}
  '{{ (value | string).replace("'", "''") }}'
{%- endmacro %}

{#- Spark SQL: backslash escapes in string literals ('' would be two adjacent literals). -#}
{% macro spark__sql_string(value) -%}
  '{{ (value | string).replace("\\", "\\\\").replace("'", "\\'") }}'
{%- endmacro %}

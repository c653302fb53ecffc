{#- Reading Bronze we did not write: every column cast to the contract's Bronze type, once, here.

    Exporters differ from our generator in physical types (a money column declared as text arrives
    as DOUBLE, an integer as a string, a timestamp as a TIMESTAMP, int32 for int64, ...), and the
    files of one partition may even disagree with each other. `bronze_coerced` looks at the files'
    footers when the model runs, groups the files by schema, and reads each group with a SELECT
    that casts every contract column to its Bronze type, so every downstream model sees exactly the
    contract's types whatever arrived. The matrix of accepted types is the same as
    src/ecomlake/bronze/coerce.py (the Bronze gate's WARN/FAIL); a type outside it stops the model
    with a one-line error (the runner refuses such a partition before dbt starts).

    Per non-text column c it also returns `c__arrived`: the value as it arrived, as text, when the
    file's type was another kind of value than the contract's (null otherwise, and always null for
    our own Bronze). The scoring uses it to tell a value that did not cast (`cast_failed_c`) from a
    missing one, and the quarantine keeps it in `_raw_text`, so nothing that arrived is lost. -#}


{#- DuckDB type name -> kind of value (string, integer, float, decimal, bool, date, timestamp,
    time, binary, null; anything else is never castable). -#}
{% macro bronze_type_kind(duckdb_type) -%}
  {%- set t = duckdb_type | upper -%}
  {%- if t in ('VARCHAR',) -%}string
  {%- elif t in ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT') -%}integer
  {%- elif t in ('FLOAT', 'DOUBLE') -%}float
  {%- elif t.startswith('DECIMAL') -%}decimal
  {%- elif t == 'BOOLEAN' -%}bool
  {%- elif t == 'DATE' -%}date
  {%- elif t.startswith('TIMESTAMP') -%}timestamp
  {%- elif t.startswith('TIME') -%}time
  {%- elif t == 'BLOB' -%}binary
  {%- elif t in ('NULL', '"NULL"') -%}null
  {%- else -%}other
  {%- endif -%}
{%- endmacro %}


{#- Types that hold the contract's values without loss (no `__arrived` text is kept for them). -#}
{% macro bronze_type_lossless(duckdb_type, target) -%}
  {%- set t = duckdb_type | upper -%}
  {%- if target == 'VARCHAR' -%}{{ t == 'VARCHAR' }}
  {%- elif target == 'BIGINT' -%}{{ t in ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER') }}
  {%- elif target == 'DOUBLE' -%}{{ t in ('FLOAT', 'DOUBLE', 'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER') }}
  {%- elif target == 'BOOLEAN' -%}{{ t == 'BOOLEAN' }}
  {%- else -%}False
  {%- endif -%}
{%- endmacro %}


{#- `column` (of DuckDB type `arrived`, none when absent from the files) as the contract's Bronze
    type `target` (VARCHAR, BIGINT, DOUBLE or BOOLEAN). -#}
{% macro bronze_cast(table, column, arrived, target, where) -%}
  {%- set q = adapter.quote(column) -%}
  {%- if arrived is none -%}
    cast(null as {{ ecom_sql_type(target) }})
  {%- elif (arrived | upper) == target -%}
    {{ q }}
  {%- else -%}
    {%- set k = bronze_type_kind(arrived) -%}
    {%- if k == 'null' -%}
      cast(null as {{ ecom_sql_type(target) }})
    {%- elif target == 'VARCHAR' and k == 'binary' -%}
      {{ ecom_blob_text(q) }}
    {%- elif target == 'VARCHAR' and k in ('string', 'integer', 'float', 'decimal', 'bool', 'date', 'timestamp', 'time') -%}
      cast({{ q }} as {{ ecom_sql_type('varchar') }})
    {%- elif target == 'BIGINT' and k == 'integer' -%}
      try_cast({{ q }} as bigint)
    {%- elif target == 'BIGINT' and k in ('float', 'decimal') -%}
      case when {{ ecom_is_integral(q) }} then try_cast({{ q }} as bigint) end
    {%- elif target == 'BIGINT' and k == 'bool' -%}
      cast({{ q }} as bigint)
    {%- elif target == 'BIGINT' and k == 'string' -%}
      {%- set text = clean_string(q) -%}
      coalesce(
        try_cast(case when {{ ecom_full_match(text, '[+-]?[0-9]+') }} then {{ text }} end as bigint),
        case when {{ ecom_is_integral('try_cast(' ~ text ~ ' as double)') }} then try_cast(try_cast({{ text }} as double) as bigint) end
      )
    {%- elif target == 'DOUBLE' and k in ('integer', 'float', 'decimal') -%}
      try_cast({{ q }} as double)
    {%- elif target == 'DOUBLE' and k == 'string' -%}
      try_cast({{ clean_string(q) }} as double)
    {%- elif target == 'BOOLEAN' and k == 'integer' -%}
      case when {{ q }} = 1 then true when {{ q }} = 0 then false end
    {%- elif target == 'BOOLEAN' and k == 'string' -%}
      try_cast({{ clean_string(q) }} as boolean)
    {%- else -%}
      {{ exceptions.raise_compiler_error("Bronze " ~ table ~ "." ~ column ~ " arrived as " ~ arrived ~ " in " ~ where ~ ", which cannot be cast to the contract's " ~ target ~ "; fix the exporter (see `ecomlake bronze validate`)") }}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}


{#- The arrived value as text when its type is another kind than the contract's, else null. -#}
{% macro bronze_arrived_text(column, arrived, target) -%}
  {%- if arrived is none or bronze_type_kind(arrived) == 'null' or bronze_type_lossless(arrived, target) == 'True' -%}
    cast(null as {{ ecom_sql_type('varchar') }})
  {%- elif bronze_type_kind(arrived) == 'string' -%}
    {{ adapter.quote(column) }}
  {%- else -%}
    cast({{ adapter.quote(column) }} as {{ ecom_sql_type('varchar') }})
  {%- endif -%}
{%- endmacro %}


{#- The SELECT list of one group of files: contract columns, `__arrived` texts, position. -#}
{% macro bronze_select_list(table, columns, arrived, where) -%}
  {%- set items = [] -%}
  {%- for name, target in columns.items() -%}
    {%- do items.append(bronze_cast(table, name, arrived.get(name), target, where) ~ " as " ~ name) -%}
  {%- endfor -%}
  {%- for name, target in columns.items() if target != 'VARCHAR' -%}
    {%- do items.append(bronze_arrived_text(name, arrived.get(name), target) ~ " as " ~ name ~ "__arrived") -%}
  {%- endfor -%}
  {%- for item in bronze_position_columns() -%}{%- do items.append(item) -%}{%- endfor -%}
  {{ return(items | join(",\n        ")) }}
{%- endmacro %}


{#- The Bronze partition of the run date with `columns` ({name: contract Bronze SQL type}) coerced.
    `optional` (returns, return_items) turns an absent partition into zero rows; for every other
    table an absent partition is an error (ecomlake's runner reports it before dbt starts). -#}
{% macro bronze_coerced(table, columns, optional=false) %}
  {{ return(adapter.dispatch('bronze_coerced', 'ecomlake')(table, columns, optional)) }}
{% endmacro %}

{% macro default__bronze_coerced(table, columns, optional=false) %}
  {#- The source is declared for lineage (docs); the files are listed here, when the model runs. -#}
  {%- do source('bronze', table) -%}
  {%- set empty = {} -%}
  {%- for name, target in columns.items() -%}{%- do empty.update({name: target}) -%}{%- endfor -%}
  {%- for name, target in columns.items() if target != 'VARCHAR' -%}{%- do empty.update({name ~ '__arrived': 'VARCHAR'}) -%}{%- endfor -%}
  {%- do empty.update({'ingest_dt': 'DATE', '_bronze_file': 'VARCHAR', '_bronze_row': 'BIGINT'}) -%}
  {%- if not execute -%}{{ return(empty_relation(empty)) }}{%- endif -%}
  {%- set pattern = ecom_var('bronze_root') ~ '/' ~ table ~ '/ingest_dt=' ~ ecom_var('run_date') ~ '/*.parquet' -%}
  {%- set files = list_files(pattern) -%}
  {%- if files | length == 0 -%}
    {%- if flags.WHICH == 'generate' -%}
      {#- `dbt docs generate` compiles every model but runs none: on a fresh clone without Bronze,
          show the read of a partition in the contract's types instead of stopping the docs. -#}
      {{ return("(\n    select\n        " ~ bronze_select_list(table, columns, columns, pattern) ~ "\n    from read_parquet(" ~ sql_string(pattern) ~ ", hive_partitioning = true, union_by_name = true, filename = true, file_row_number = true)\n)") }}
    {%- endif -%}
    {%- if optional -%}{{ return(empty_relation(empty)) }}{%- endif -%}
    {{ exceptions.raise_compiler_error("no Bronze " ~ table ~ " files match " ~ pattern ~ "; land that partition first") }}
  {%- endif -%}
  {#- Group the files by their parquet schema (one footer scan), then read each group once. -#}
  {%- set sig = run_query(
      "select file_name, string_agg(coalesce(name, '') || ' ' || coalesce(duckdb_type, ''), ', ' order by column_id nulls first, name) "
      ~ "from parquet_schema(" ~ file_list_sql(files) ~ ") group by file_name order by file_name") -%}
  {%- set groups = {} -%}
  {%- for row in sig.rows -%}{%- do groups.setdefault(row[1], []).append(row[0]) -%}{%- endfor -%}
  {%- set selects = [] -%}
  {%- for key in groups.keys() | sort -%}
    {%- set group_files = groups[key] -%}
    {%- set reader = "read_parquet(" ~ file_list_sql(group_files) ~ ", hive_partitioning = true, union_by_name = true, filename = true, file_row_number = true)" -%}
    {%- set described = run_query("describe select * from " ~ reader) -%}
    {%- set arrived = {} -%}
    {%- for row in described.rows -%}{%- do arrived.update({row[0]: row[1]}) -%}{%- endfor -%}
    {%- set where = group_files[0] ~ ((" and " ~ (group_files | length - 1) ~ " more file(s)") if group_files | length > 1 else "") -%}
    {%- do selects.append("select\n        " ~ bronze_select_list(table, columns, arrived, where) ~ "\n    from " ~ reader) -%}
  {%- endfor -%}
  {{ return("(\n    " ~ (selects | join("\n    union all\n    ")) ~ "\n)") }}
{% endmacro %}


{#- The arrival partition and the position of a row in its Bronze file. DuckDB: the hive partition
    column, the file name and the row number of read_parquet. Spark reads one file at a time (a
    single file has no partition column: the partition is the run date, from the listed path), with
    its _metadata (file path, as a URI, and row index). -#}
{% macro bronze_position_columns() -%}
  {{ return(adapter.dispatch('bronze_position_columns', 'ecomlake')()) }}
{%- endmacro %}
{% macro default__bronze_position_columns() -%}
  {{ return(["cast(ingest_dt as date) as ingest_dt", "filename as _bronze_file", "file_row_number as _bronze_row"]) }}
{%- endmacro %}
{% macro spark__bronze_position_columns() -%}
  {{ return(["cast(" ~ sql_string(ecom_var('run_date')) ~ " as date) as ingest_dt", "_metadata.file_path as _bronze_file", "_metadata.row_index as _bronze_row"]) }}
{%- endmacro %}


{#- Bytes as text: UTF-8 when they decode. -#}
{% macro ecom_blob_text(q) -%}
  {{ return(adapter.dispatch('ecom_blob_text', 'ecomlake')(q)) }}
{%- endmacro %}
{% macro default__ecom_blob_text(q) -%}coalesce(try(decode({{ q }})), cast({{ q }} as varchar)){%- endmacro %}
{#- Spark: the cast decodes UTF-8 (invalid bytes become U+FFFD, where DuckDB keeps an escaped text). -#}
{% macro spark__ecom_blob_text(q) -%}cast({{ q }} as string){%- endmacro %}


{#- A number with no fractional part (Spark's trunc() is for dates; round() keeps a double). -#}
{% macro ecom_is_integral(q) -%}
  {{ return(adapter.dispatch('ecom_is_integral', 'ecomlake')(q)) }}
{%- endmacro %}
{% macro default__ecom_is_integral(q) -%}{{ q }} = trunc({{ q }}){%- endmacro %}
{% macro spark__ecom_is_integral(q) -%}{{ q }} = round({{ q }}, 0){%- endmacro %}


{#- Spark type names (DESCRIBE) as the DuckDB names the casting matrix above is written in. -#}
{% macro spark_type_as_duckdb(spark_type) -%}
  {%- set t = spark_type | lower -%}
  {%- set names = {'string': 'VARCHAR', 'bigint': 'BIGINT', 'int': 'INTEGER', 'smallint': 'SMALLINT',
      'tinyint': 'TINYINT', 'double': 'DOUBLE', 'float': 'FLOAT', 'boolean': 'BOOLEAN', 'date': 'DATE',
      'timestamp': 'TIMESTAMP WITH TIME ZONE', 'timestamp_ltz': 'TIMESTAMP WITH TIME ZONE',
      'timestamp_ntz': 'TIMESTAMP', 'binary': 'BLOB', 'void': 'NULL'} -%}
  {%- if t in names -%}{{ return(names[t]) }}
  {%- elif t.startswith('decimal') -%}{{ return(t | upper) }}
  {%- elif t.startswith('varchar') or t.startswith('char') -%}{{ return('VARCHAR') }}
  {%- else -%}{{ return(t | upper) }}
  {%- endif -%}
{%- endmacro %}


{#- Spark: the files are listed like DuckDB's (committed manifest), then each file is described and
    read on its own (its schema is its own: Spark reads several files with the first one's schema). -#}
{% macro spark__bronze_coerced(table, columns, optional=false) %}
  {%- do source('bronze', table) -%}
  {%- set empty = {} -%}
  {%- for name, target in columns.items() -%}{%- do empty.update({name: target}) -%}{%- endfor -%}
  {%- for name, target in columns.items() if target != 'VARCHAR' -%}{%- do empty.update({name ~ '__arrived': 'VARCHAR'}) -%}{%- endfor -%}
  {%- do empty.update({'ingest_dt': 'DATE', '_bronze_file': 'VARCHAR', '_bronze_row': 'BIGINT'}) -%}
  {%- if not execute -%}{{ return(empty_relation(empty)) }}{%- endif -%}
  {%- set pattern = ecom_var('bronze_root') ~ '/' ~ table ~ '/ingest_dt=' ~ ecom_var('run_date') ~ '/*.parquet' -%}
  {%- set files = list_files(pattern) -%}
  {%- if files | length == 0 -%}
    {%- if optional -%}{{ return(empty_relation(empty)) }}{%- endif -%}
    {{ exceptions.raise_compiler_error("no Bronze " ~ table ~ " files match " ~ pattern ~ "; land that partition first") }}
  {%- endif -%}
  {%- set selects = [] -%}
  {%- for f in files -%}
    {%- set reader = spark_parquet_relation([f]) -%}
    {%- set arrived = {} -%}
    {%- for row in run_query("describe query select * from " ~ reader).rows -%}
      {%- do arrived.update({row[0]: spark_type_as_duckdb(row[1])}) -%}
    {%- endfor -%}
    {%- do selects.append("select\n        " ~ bronze_select_list(table, columns, arrived, f) ~ "\n    from " ~ reader) -%}
  {%- endfor -%}
  {{ return("(\n    " ~ (selects | join("\n    union all\n    ")) ~ "\n)") }}
{% endmacro %}

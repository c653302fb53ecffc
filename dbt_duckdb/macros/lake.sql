{#- Where the lake's parquet lives. Files are listed when the model runs (execute), so the same SQL
    works for the runner and for hand runs; nothing is listed while dbt only parses.

    Like every ecomlake reader (storage.partition_files), only the files each partition's committed
    `_manifest.json` lists are read: a file dropped in by hand, or the data objects of a publish to
    gs:// that has not committed yet, are not. A partition without a manifest: all its files
    locally, none on object storage (there, no manifest means no committed version). -#}

{% macro list_files(pattern) %}
  {{ return(adapter.dispatch('list_files', 'ecomlake')(pattern)) }}
{% endmacro %}

{% macro default__list_files(pattern) %}
  {%- if not execute -%}{{ return([]) }}{%- endif -%}
  {%- set found = run_query("select file from glob(" ~ sql_string(pattern) ~ ") order by file").columns[0].values() | list -%}
  {%- if found | length == 0 -%}{{ return([]) }}{%- endif -%}
  {%- set manifest_pattern = pattern.rsplit('/', 1)[0] ~ '/_manifest.json' -%}
  {%- set manifests = run_query("select file from glob(" ~ sql_string(manifest_pattern) ~ ")").columns[0].values() | list -%}
  {%- set listed = {} -%}
  {%- if manifests | length > 0 -%}
    {%- set rows = run_query(
        "select filename, coalesce(array_to_string(list_transform(files, lambda x: regexp_extract(x.path, '[^/]*$')), '/'), '') from read_json(" ~ file_list_sql(manifests)
        ~ ", filename = true, columns = {'files': 'STRUCT(path VARCHAR)[]'})").rows -%}
    {%- for row in rows -%}
      {%- do listed.update({row[0].rsplit('/', 1)[0]: (row[1] or '').split('/')}) -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(files_listed(found, listed)) }}
{% endmacro %}


{#- Spark SQL has no glob() or read_json(): the files are listed by the binaryFile source (names and
    sizes; a manifest's content is read as text and parsed here). A glob that matches nothing is an
    error in Spark, so the pattern is listed together with a file that always exists (the project's
    dbt_project.yml, through Hadoop's {a,b} glob alternation) and that file is then dropped. -#}
{% macro spark__list_files(pattern) %}
  {%- if not execute -%}{{ return([]) }}{%- endif -%}
  {%- if not pattern.startswith('/') and '://' not in pattern -%}
    {#- a hand run's relative lake roots (../data/...) are relative to where dbt runs -#}
    {%- set pattern = env_var('PWD', '') ~ '/' ~ pattern -%}
  {%- endif -%}
  {%- set anchor = spark_listing_anchor() -%}
  {%- set found = [] -%}
  {%- for p in run_query("select path from binaryFile.`" ~ spark_listing_glob(pattern, anchor) ~ "` order by path").columns[0].values() -%}
    {%- set p = spark_local_path(p) -%}
    {%- if p != anchor -%}{%- do found.append(p) -%}{%- endif -%}
  {%- endfor -%}
  {%- if found | length == 0 -%}{{ return([]) }}{%- endif -%}
  {%- set manifest_pattern = pattern.rsplit('/', 1)[0] ~ '/_manifest.json' -%}
  {%- set listed = {} -%}
  {%- for row in run_query("select path, cast(content as string) from binaryFile.`" ~ spark_listing_glob(manifest_pattern, anchor) ~ "`").rows -%}
    {%- set p = spark_local_path(row[0]) -%}
    {%- if p != anchor -%}
      {%- set names = [] -%}
      {%- for f in (fromjson(row[1]) or {}).get('files', []) -%}{%- do names.append(f['path'].rsplit('/', 1)[-1]) -%}{%- endfor -%}
      {%- do listed.update({p.rsplit('/', 1)[0]: names}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(files_listed(found, listed)) }}
{% endmacro %}


{# The found files a partition's manifest lists (a directory without a manifest: all of them, when
   local; an object-store directory needs its manifest). `listed`: {directory: [file names]}. #}
{% macro files_listed(found, listed) %}
  {%- set files = [] -%}
  {%- for f in found -%}
    {%- set d, name = f.rsplit('/', 1) -%}
    {%- if d in listed -%}
      {%- if name in listed[d] -%}{%- do files.append(f) -%}{%- endif -%}
    {%- elif '://' not in f -%}
      {%- do files.append(f) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(files) }}
{% endmacro %}


{% macro spark_listing_anchor() -%}
  {%- set project = env_var('ECOM_DBT_PROJECT_DIR', '') or ((flags.PROJECT_DIR or '.') | string) -%}
  {%- if not project.startswith('/') -%}{%- set project = env_var('PWD', '') ~ '/' ~ project -%}{%- endif -%}
  {{ return(project.rstrip('/') ~ '/dbt_project.yml') }}
{%- endmacro %}


{#- The paths `pattern` matches, with the anchor (an absolute local path): /{a,b} (a glob starting
    with '{' would be taken as relative). Object-store lake roots are not supported on Spark yet. -#}
{% macro spark_listing_glob(pattern, anchor) -%}
  {%- if not pattern.startswith('/') -%}
    {{ exceptions.raise_compiler_error("the spark target lists local lake roots only (absolute paths); got " ~ pattern) }}
  {%- endif -%}
  {{ return('/{' ~ pattern[1:] ~ ',' ~ anchor[1:] ~ '}') }}
{%- endmacro %}


{#- binaryFile's paths are URIs (file:/a/b): local ones back to plain paths, as DuckDB lists them. -#}
{% macro spark_local_path(uri) -%}
  {%- set u = uri | string -%}
  {%- if u.startswith('file:') -%}{%- set u = '/' ~ u[5:].lstrip('/') -%}{%- endif -%}
  {{ return(u) }}
{%- endmacro %}


{#- A Spark relation over parquet files (listed absolute paths): one, or several through Hadoop's
    glob alternation /{a,b} (a glob starting with '{' would be taken as relative). -#}
{% macro spark_parquet_relation(files) -%}
  {%- if files | length == 1 -%}parquet.`{{ files[0] }}`
  {%- else -%}
    {%- set rest = [] -%}
    {%- for f in files -%}
      {%- if not f.startswith('/') -%}
        {{ exceptions.raise_compiler_error("the spark target reads local lake files only (absolute paths); got " ~ f) }}
      {%- endif -%}
      {%- do rest.append(f[1:]) -%}
    {%- endfor -%}
    parquet.`/{{ '{' ~ (rest | join(',')) ~ '}' }}`
  {%- endif -%}
{%- endmacro %}


{% macro file_list_sql(files) -%}
  [{%- for f in files -%}{{ sql_string(f) }}{{ ", " if not loop.last }}{%- endfor -%}]
{%- endmacro %}


{% macro empty_relation(columns) -%}
  (select {% for name, type in columns.items() %}cast(null as {{ ecom_sql_type(type) }}) as {{ name }}{{ ", " if not loop.last }}{% endfor %} where false)
{%- endmacro %}


{#- Rows of `table` already published in Silver before the run date (through it with var
    published_through_run_date, used by quarantine recovery), reduced to `columns` {name: type}. -#}
{% macro silver_history(table, columns) %}
  {%- set through = ecom_var('published_through_run_date') in (true, 'true', 'True', 1, '1') -%}
  {%- set run_date = ecom_var('run_date') | string -%}
  {%- set files = [] -%}
  {%- for f in list_files(ecom_var('silver_root') ~ '/' ~ table ~ '/ingest_dt=????-??-??/*.parquet') -%}
    {%- set m = modules.re.search('ingest_dt=([0-9]{4}-[0-9]{2}-[0-9]{2})', f) -%}
    {%- if m and (m.group(1) < run_date or (through and m.group(1) == run_date)) -%}
      {%- do files.append(f) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if files | length == 0 -%}
    {{ return(empty_relation(columns)) }}
  {%- endif -%}
  {%- if target.type == 'spark' -%}
    {{ return("(select " ~ (columns.keys() | join(', ')) ~ " from " ~ spark_parquet_relation(files) ~ ")") }}
  {%- endif -%}
  {{ return("(select " ~ (columns.keys() | join(', ')) ~ " from read_parquet(" ~ file_list_sql(files) ~ ", union_by_name = true))") }}
{% endmacro %}


{#- The dims snapshot for the run date, or the latest one before it (var dims_snapshot_dt pins one).
    No snapshot at all is an error, except while `dbt docs generate` compiles the project. -#}
{% macro dims_snapshot(name) %}
  {%- if not execute -%}{{ return("(select 1 as _parsing)") }}{%- endif -%}
  {%- set root = ecom_var('dims_root') -%}
  {%- set run_date = ecom_var('run_date') | string -%}
  {%- set pinned = ecom_var('dims_snapshot_dt') | string -%}
  {%- set by_date = {} -%}
  {%- for f in list_files(root ~ '/' ~ name ~ '/snapshot_dt=????-??-??/*.parquet') -%}
    {%- set d = modules.re.search('snapshot_dt=([0-9]{4}-[0-9]{2}-[0-9]{2})', f).group(1) -%}
    {%- if (pinned and d == pinned) or (not pinned and d <= run_date) -%}
      {%- do by_date.setdefault(d, []).append(f) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if by_date | length == 0 and flags.WHICH == 'generate' -%}
    {#- `dbt docs generate` compiles every model but runs none: on a fresh clone with no dims yet, show
        where the snapshot is read from instead of stopping the docs. -#}
    {{ return("read_parquet(" ~ sql_string(root ~ '/' ~ name ~ '/snapshot_dt=<latest on or before ' ~ run_date ~ '>/*.parquet') ~ ")") }}
  {%- endif -%}
  {%- if by_date | length == 0 -%}
    {{ exceptions.raise_compiler_error("no " ~ name ~ " dims snapshot for " ~ (pinned or run_date) ~ " or earlier under " ~ root ~ "; run `ecomlake local dims` first") }}
  {%- endif -%}
  {%- set latest = (by_date.keys() | list | sort)[-1] -%}
  {%- if target.type == 'spark' -%}{{ return(spark_parquet_relation(by_date[latest])) }}{%- endif -%}
  {{ return("read_parquet(" ~ file_list_sql(by_date[latest]) ~ ", union_by_name = true)") }}
{% endmacro %}

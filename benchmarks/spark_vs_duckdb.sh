#!/usr/bin/env bash
# DuckDB against local Spark on the same Bronze day: dims (DuckDB, shared), then Base Silver and
# Enriched on each engine, each on its own copy of the lake, timed with /usr/bin/time; then the two
# lakes' silver, quarantine and Enriched rows are compared (EXCEPT ALL both ways).
#   benchmarks/spark_vs_duckdb.sh <bronze root> [date] [out dir]
# e.g. with the harness's cached 100k Bronze:
#   benchmarks/spark_vs_duckdb.sh benchmarks/.cache/bronze/o100000_d2_2023-01-01_s7_<hash> 2023-01-01
set -euo pipefail
BRONZE=$(realpath "$1"); D=${2:-2023-01-01}; OUT=$(realpath -m "${3:-benchmarks/results/spark_vs_duckdb}")
CODE=$(cd "$(dirname "$0")/.." && pwd)
ECOMLAKE="$CODE/.venv/bin/ecomlake"
rm -rf "$OUT" && mkdir -p "$OUT"
lake() {
  echo "BRONZE_BASE_PATH=$BRONZE SILVER_BASE_PATH=$1/silver/base SILVER_DIMS_PATH=$1/silver/dims" \
    "SILVER_ENRICHED_PATH=$1/silver/enriched GOLD_PATH=$1/gold METRICS_BASE_PATH=$1/metrics" \
    "REPORTS_BASE_PATH=$1/reports ECOM_WORK_PATH=$1/work ECOM_CONFIG_PATH=$CODE/config/config.yml"
}
timed() {  # label, lake root, ecomlake args...
  local label=$1 root=$2; shift 2
  # shellcheck disable=SC2046  # lake() prints VAR=value words for env
  env $(lake "$root") /usr/bin/time -f "%e" -o "$OUT/$label.time" "$ECOMLAKE" "$@" >"$OUT/$label.log" 2>&1
  echo "$label: $(cat "$OUT/$label.time") s wall (load $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$OUT/results.txt"
}
timed dims "$OUT/duckdb" local dims --date "$D"
cp -r "$OUT/duckdb" "$OUT/spark"
timed silver_duckdb "$OUT/duckdb" local silver --date "$D"
timed silver_spark "$OUT/spark" local silver --date "$D" --engine spark
timed enriched_duckdb "$OUT/duckdb" enriched run --ingest-dt "$D"
timed enriched_spark "$OUT/spark" enriched run --ingest-dt "$D" --engine spark
"$CODE/.venv/bin/python" - "$OUT" <<'PY' | tee -a "$OUT/results.txt"
import glob, sys
import duckdb
out = sys.argv[1]
con = duckdb.connect()
VOLATILE = {"_run_id", "_quarantine_timestamp", "_raw_text"}  # run names; _raw_text is JSON text whose key order differs
for pattern in ("silver/base/*", "silver/base/quarantine/*", "silver/enriched/int_*"):
    for d in sorted(glob.glob(f"{out}/duckdb/{pattern}")):
        a = f"{d}/*/*.parquet"
        if not glob.glob(a):
            continue
        b = a.replace(f"{out}/duckdb/", f"{out}/spark/")
        cols = [c for c, *_ in con.execute(f"describe select * from read_parquet('{a}')").fetchall() if c not in VOLATILE]
        sel = ", ".join(f'"{c}"' for c in cols)
        n = con.execute(f"select count(*) from read_parquet('{a}')").fetchone()[0]
        diff = sum(
            con.execute(f"select count(*) from (select {sel} from read_parquet('{x}') except all select {sel} from read_parquet('{y}'))").fetchone()[0]
            for x, y in ((a, b), (b, a))
        )
        print(f"{d.removeprefix(out + '/duckdb/')}: {n} rows, {diff} differing")
PY

#!/usr/bin/env bash
# Run the research notebooks with papermill, render them to HTML and keep their results as JSON.
#   tools/experiments.sh [--out DIR] [--n N] [--write-config]
# Defaults: outputs/experiments, N=100000 events per seed for rule tuning (the generator fit uses the same N).
# Two runs give identical JSON (seeded everything, no wall-clock values): diff DIR/*.json to check.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=outputs/experiments
N=100000
WRITE=False
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --n) N=$2; shift 2 ;;
    --write-config) WRITE=True; shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
export PYTHONHASHSEED=0 MPLBACKEND=Agg
run() {  # notebook name, then papermill -p arguments
  local name=$1; shift
  "$BIN/papermill" --log-level WARNING -k python3 "nbs/experiments/$name.ipynb" "$OUT/$name.ipynb" \
    -p result_path "$OUT/$name.json" "$@"
  "$BIN/jupyter" nbconvert --log-level WARN --to html "$OUT/$name.ipynb" --output-dir "$OUT"
  echo "$OUT/$name.json  $OUT/$name.html"
}
run generator_fit -p seed 42 -p n "$N"
run rule_tuning -p train_seed 1 -p test_seed 2 -p n "$N" -p fraud_rate 0.02 -p write_config "$WRITE"

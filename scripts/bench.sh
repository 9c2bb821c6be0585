#!/usr/bin/env bash
# Builds and runs every benchmark; each writes JSON to bench/results/<name>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
mkdir -p bench/results
for b in build/bench/*_bench; do
  name=$(basename "$b")
  echo "== $name"
  "$b" --benchmark_format=console --benchmark_out="bench/results/$name.json" \
    --benchmark_out_format=json "$@"
done

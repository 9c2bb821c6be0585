#!/usr/bin/env bash
# The README's demo command: installs, builds, makes a small synthetic CT set with
# `aslseg synth`, splits it, and scores the labels against themselves with `aslseg evaluate`.
# The training loop (SSL net -> SAM -> adaptation net) joins this script as it lands.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
OUT="${ASLSEG_DEMO_DIR:-demo}"
BIN=./build/aslseg
$BIN synth --out "$OUT/data" --cases 8 --seed 1
$BIN dataset split --data "$OUT/data" --labeled-fraction 0.25 --test-fraction 0.25 --seed 1 \
  --out "$OUT/split.json"
$BIN evaluate --pred "$OUT/data" --gt "$OUT/data" --out "$OUT/self_eval.json"
echo
echo "demo: phantoms in $OUT/data, split in $OUT/split.json, metrics in $OUT/self_eval.json"
echo "demo: 'aslseg train' (the ASLseg loop) is not built yet; see the README's status table."

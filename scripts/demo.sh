#!/usr/bin/env bash
# The README's demo command: installs, builds, makes a small synthetic CT set with
# `aslseg synth`, trains the semi-supervised segmentation net (stage 1 of ASLseg, mean teacher)
# on a quarter of the labels, predicts the test split with `aslseg infer` and scores it with
# `aslseg evaluate`. CPU only, a few minutes. The SAM and adaptation-net rounds join this
# script when they land.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
OUT="${ASLSEG_DEMO_DIR:-demo}"
BIN=./build/aslseg
rm -rf "$OUT/run"
$BIN synth --out "$OUT/data" --cases 12 --seed 1 --size 96,96,32 --spacing 3.5,3.5,5
$BIN train --config configs/demo.json --data "$OUT/data" --out "$OUT/run"
# The test cases of the split, predicted by the trained net and scored independently.
rm -rf "$OUT/test_images" "$OUT/test_labels" "$OUT/predictions"
mkdir -p "$OUT/test_images" "$OUT/test_labels"
for id in $(python3 -c "import json;print(' '.join(json.load(open('$OUT/run/split.json'))['test']))"); do
  cp "$OUT/data/volume-$id.nii.gz" "$OUT/test_images/"
  cp "$OUT/data/segmentation-$id.nii.gz" "$OUT/test_labels/"
done
$BIN infer --model "$OUT/run" --input "$OUT/test_images" --output "$OUT/predictions"
$BIN evaluate --pred "$OUT/predictions" --gt "$OUT/test_labels" --out "$OUT/test_scores.json"
echo
echo "demo: phantoms $OUT/data, run $OUT/run (log.txt, ss/metrics.jsonl, summary.json),"
echo "      predictions $OUT/predictions, scores $OUT/test_scores.json (+ .csv)"

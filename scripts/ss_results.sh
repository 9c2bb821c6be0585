#!/usr/bin/env bash
# The segmentation stage alone on two phantom families (docs/ss_recipe.md, "Held-out family"):
# (a) the development family (`aslseg synth` defaults, seed 1), on which the recipe was tuned,
# and (b) a family held out from all tuning (other seed, lesion count and size, noise, bias,
# grid rotation, body width). Per family: 40 phantoms, split 30 % test / 10 % of the rest
# labelled; supervised training with configs/demo.json's recipe on the labelled 10 % (3 seeds)
# and on every training case (1 seed: the upper bound). Prints a markdown table of the test
# split's tumour Dice over the test cases with tumour (mean ± sd over seeds).
#
#   ./scripts/ss_results.sh              # about 10 minutes on 2 cores
# Environment: ASLSEG_BIN (default build/aslseg), ASLSEG_SS_DIR (default out/ss_results).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${ASLSEG_BIN:-build/aslseg}"
OUT="${ASLSEG_SS_DIR:-out/ss_results}"
CONFIG=configs/demo.json
source scripts/families.sh
mkdir -p "$OUT"
for f in a b; do
  data="$OUT/family_$f"
  make_family "$BIN" "$data" "$f"
  for run in 10:1 10:2 10:3 100:1; do
    share=${run%%:*}; seed=${run##*:}
    dir="$OUT/$f-sup$share-seed$seed"
    [ -f "$dir/ss/test_metrics.json" ] && continue
    rm -rf "$dir"
    $BIN -q train --config $CONFIG --data "$data" --split "$data/split$share.json" --out "$dir" \
      --set ssl.paradigm=supervised --set loop.rounds=0 --set seed="$seed" >"$dir.log" 2>&1
  done
done

python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
def dice(path):
    cases = json.load(open(path))["cases"]
    d = [c["classes"]["tumour"]["dice"] for c in cases if c["classes"]["tumour"]["gt_voxels"] > 0]
    return statistics.mean(d)
print("| family | supervised 10 % (3 seeds) | supervised 100 % (seed 1) |")
print("|---|---|---|")
for f, name in (("a", "(a) development"), ("b", "(b) held out")):
    ten = [dice(f"{out}/{f}-sup10-seed{s}/ss/test_metrics.json") for s in (1, 2, 3)]
    full = dice(f"{out}/{f}-sup100-seed1/ss/test_metrics.json")
    seeds = ", ".join(f"{v:.3f}" for v in ten)
    print(f"| {name} | {statistics.mean(ten):.3f} ± {statistics.pstdev(ten):.3f} ({seeds}) | {full:.3f} |")
PY

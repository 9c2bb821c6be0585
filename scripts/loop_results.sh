#!/usr/bin/env bash
# The loop's results table (docs/loop_results.md): one synthetic CT set, the ASLseg loop with
# a config (default configs/demo.json), and a supervised baseline on the same split and
# budget (`--set ssl.paradigm=supervised --set loop.rounds=0`). Prints a markdown table of
# the test split (tumour Dice mean ± sd, HD95, ASD; liver Dice) for: supervised, SSL only
# (round 1's SS), and every round's SS, SS→SAM and SS→SAM→AN; also written to OUT/results.md.
#
#   ./scripts/loop_results.sh                                    # demo-sized: 12 cases
#   ASLSEG_LOOP_CASES=40 ASLSEG_LOOP_SIZE=128,128,48 ASLSEG_LOOP_DIR=out/loop_large \
#     ./scripts/loop_results.sh --set optim.steps=1000
#
# Extra arguments are passed to both `aslseg train` runs (--set overrides).
# Environment: ASLSEG_BIN (binary, default build/aslseg), ASLSEG_LOOP_DIR (default
# out/loop_results), ASLSEG_LOOP_CONFIG (default configs/demo.json), ASLSEG_LOOP_CASES
# (default 12), ASLSEG_LOOP_SIZE (default 96,96,32), ASLSEG_LOOP_SPACING (default 3.5,3.5,5),
# ASLSEG_LOOP_SYNTH_ARGS (more `aslseg synth` options).
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE_BIN="${ASLSEG_BIN:-build/aslseg}"
OUT="${ASLSEG_LOOP_DIR:-out/loop_results}"
CONFIG="${ASLSEG_LOOP_CONFIG:-configs/demo.json}"
CASES="${ASLSEG_LOOP_CASES:-12}"
SIZE="${ASLSEG_LOOP_SIZE:-96,96,32}"
SPACING="${ASLSEG_LOOP_SPACING:-3.5,3.5,5}"
SYNTH_ARGS="${ASLSEG_LOOP_SYNTH_ARGS:-}"  # e.g. "--tumours 0,3 --tumour-radius 10,30"

rm -rf "$OUT"
mkdir -p "$OUT"
cp "$SOURCE_BIN" "$OUT/aslseg"  # one binary for both runs, whatever happens to the build
BIN="$OUT/aslseg"
$BIN -q synth --out "$OUT/data" --cases "$CASES" --seed 1 --size "$SIZE" --spacing "$SPACING" $SYNTH_ARGS

start=$(date +%s)
$BIN train --config "$CONFIG" --data "$OUT/data" --out "$OUT/loop" "$@" >"$OUT/loop.log" 2>&1
loop_s=$(( $(date +%s) - start ))
start=$(date +%s)
$BIN train --config "$CONFIG" --data "$OUT/data" --split "$OUT/loop/split.json" --out "$OUT/supervised" \
  "$@" --set ssl.paradigm=supervised --set loop.rounds=0 >"$OUT/supervised.log" 2>&1
sup_s=$(( $(date +%s) - start ))

python3 - "$OUT" "$CONFIG" "$CASES" "$SIZE" "$loop_s" "$sup_s" "$*" "$SYNTH_ARGS" <<'PY' | tee "$OUT/results.md"
import json, sys
out, config, cases, size, loop_s, sup_s, extra, synth = sys.argv[1:9]
loop = json.load(open(f"{out}/loop/summary.json"))
sup = json.load(open(f"{out}/supervised/summary.json"))["test"]
split = json.load(open(f"{out}/loop/split.json"))
def m(t, cls, metric, sd=False):
    v = t.get(cls, {}).get(metric, {})
    if v.get("mean") is None: return "n/a"
    return f"{v['mean']:.3f} ± {v['sd']:.3f}" if sd else f"{v['mean']:.2f}"
def row(name, t, note=""):
    print(f"| {name} | {m(t,'tumour','dice',True)} | {m(t,'tumour','hd95')} | {m(t,'tumour','asd')} | {m(t,'liver','dice',True)} | {note} |")
print(f"{cases} phantoms of {size} {synth} ({len(split['labelled'])} labelled, {len(split['unlabelled'])} unlabelled, "
      f"{len(split['test'])} test), `{config}` {extra}; loop {loop_s} s, supervised {sup_s} s\n")
print("| model | tumour Dice | tumour HD95 (mm) | tumour ASD (mm) | liver Dice | |")
print("|---|---|---|---|---|---|")
row("supervised (labelled only)", sup)
for r in loop["rounds"]:
    k, t = r["round"], r["test"]
    row("SSL only (SS of round 1)" if k == 1 else f"round {k}: SS", t.get("ss", {}),
        f"D_l = {r['ss']['labelled']}")
    row(f"round {k}: SS → SAM", t.get("ss_sam", {}))
    row(f"round {k}: SS → SAM → AN", t.get("ss_sam_an", {}), f"selected {r['selected']} of {r['pool']}")
if loop.get("stopped_early"): print(f"\nstopped early: {loop['stopped_early']}")
PY

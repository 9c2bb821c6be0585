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
# ASLSEG_LOOP_TABLE_ONLY=1 prints the table of the runs already in OUT.
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

if [ -n "${ASLSEG_LOOP_TABLE_ONLY:-}" ]; then  # only print the table of an earlier run in OUT
  loop_s="?"; sup_s="?"
else
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
fi

python3 - "$OUT" "$CONFIG" "$CASES" "$SIZE" "$loop_s" "$sup_s" "$*" "$SYNTH_ARGS" <<'PY' | tee "$OUT/results.md"
import json, sys, statistics
out, config, cases, size, loop_s, sup_s, extra, synth = sys.argv[1:9]
loop = json.load(open(f"{out}/loop/summary.json"))
split = json.load(open(f"{out}/loop/split.json"))
def stats(path):
    """Tumour Dice over the test cases with tumour, and tumour-free cases kept tumour-free."""
    cases = json.load(open(path))["cases"]
    with_t = [c["classes"]["tumour"] for c in cases if c["classes"]["tumour"]["gt_voxels"] > 0]
    free = [c["classes"]["tumour"] for c in cases if c["classes"]["tumour"]["gt_voxels"] == 0]
    d = [t["dice"] for t in with_t]
    def mean(key):
        v = [t[key] for t in with_t if t[key] is not None]
        return f"{statistics.mean(v):.1f}" if v else "n/a"
    dice = f"{statistics.mean(d):.3f} ± {statistics.pstdev(d):.3f}" if d else "n/a"
    right = sum(1 for t in free if t["pred_voxels"] == 0)
    liver = [c["classes"]["liver"]["dice"] for c in cases]
    return (f"{dice} | {mean('hd95')} | {mean('asd')} | {right} of {len(free)} | "
            f"{statistics.mean(liver):.3f}")
def row(name, path, note=""):
    print(f"| {name} | {stats(path)} | {note} |")
print(f"{cases} phantoms of {size} {synth}({len(split['labelled'])} labelled, "
      f"{len(split['unlabelled'])} unlabelled, {len(split['test'])} test), `{config}` {extra}; "
      f"loop {loop_s} s, supervised {sup_s} s\n")
print("| model | tumour Dice (test cases with tumour) | tumour HD95 (mm) | tumour ASD (mm) | "
      "tumour-free cases left empty | liver Dice | |")
print("|---|---|---|---|---|---|---|")
row("supervised (labelled only)", f"{out}/supervised/ss/test_metrics.json")
for r in loop["rounds"]:
    k = r["round"]
    base = f"{out}/loop/round_{k}/test"
    row("SSL only (SS of round 1)" if k == 1 else f"round {k}: SS", f"{base}/ss/test_metrics.json",
        f"D_l = {r['ss']['labelled']}")
    row(f"round {k}: SS → SAM", f"{base}/ss_sam/test_metrics.json")
    row(f"round {k}: SS → SAM → AN", f"{base}/ss_sam_an/test_metrics.json",
        f"selected {r['selected']} of {r['pool']}")
if loop.get("stopped_early"): print(f"\nstopped early: {loop['stopped_early']}")
PY

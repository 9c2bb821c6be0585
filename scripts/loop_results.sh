#!/usr/bin/env bash
# Regenerates the results of docs/loop_results.md (issue 11): on two phantom families
# (scripts/families.sh: (a) development, (b) held out from all tuning), for each of 3 seeds,
#   - the ASLseg loop with a config (default configs/demo.json) on 10 % labels: every round's
#     SS, SS -> SAM and SS -> SAM -> AN;
#   - SSL only at 10 %, one row per paradigm (ASLSEG_RESULTS_PARADIGMS, default mean_teacher):
#     the same nets trained with that semi-supervised loss on the labelled and unlabelled
#     volumes, no loop (the loop's round 1 is this row when its config trains that paradigm);
#   - supervised 10 % and supervised 100 % (the upper bound): the same net and recipe trained
#     with the supervised loss on the labelled 10 % / all training cases, as an ensemble of as
#     many nets as the loop's SS has (loop.ss_members), with the loop's component filter
#     fitted on their own labelled volumes, so the rows differ in the labels only.
# Tumour Dice is the mean over the test cases that have tumour; mean ± sd over seeds. Writes
# OUT/results.md, OUT/loop_results.png (tumour Dice per round and stage) and
# OUT/learning_curves.png, and replaces the generated part of docs/loop_results.md (between
# its "results:begin" and "results:end" markers) with the table.
#
#   ./scripts/loop_results.sh      # about 3 h 20 min on 2 cores with configs/demo.json: 6 loops
#                                  # (~10 min), 6 supervised 100 % (~7 min) and 6 mean-teacher
#                                  # (~16 min) ensembles
#   ASLSEG_RESULTS_PARADIGMS= ASLSEG_RESULTS_UPPER_SEEDS=1 ./scripts/loop_results.sh
#                                  # the docs' table of 2026-12-07: ~75 min
#
# Runs already finished in OUT are kept (rerun to continue after an interruption).
# Environment: ASLSEG_BIN (default build/aslseg), ASLSEG_RESULTS_DIR (default
# out/loop_results), ASLSEG_LOOP_CONFIG (default configs/demo.json), ASLSEG_RESULTS_SEEDS
# (default "1 2 3"), ASLSEG_RESULTS_UPPER_SEEDS (the supervised 100 % row's seeds, default the
# same; a seed without its own uses their mean for its gap share), ASLSEG_RESULTS_FAMILIES
# (default "a b"), ASLSEG_RESULTS_PARADIGMS (the SSL-only rows, default "mean_teacher"),
# ASLSEG_RESULTS_SET (space-separated KEY=VALUE overrides of the config given to every
# `train`, loop and baselines alike, e.g. "optim.steps=8000"),
# ASLSEG_RESULTS_NO_DOC=1 (leave docs/loop_results.md alone), ASLSEG_PYTHON
# (a python3 with matplotlib for the plots).
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE_BIN="${ASLSEG_BIN:-build/aslseg}"
OUT="${ASLSEG_RESULTS_DIR:-out/loop_results}"
CONFIG="${ASLSEG_LOOP_CONFIG:-configs/demo.json}"
SEEDS="${ASLSEG_RESULTS_SEEDS:-1 2 3}"
UPPER_SEEDS="${ASLSEG_RESULTS_UPPER_SEEDS:-$SEEDS}"  # seeds of the supervised 100 % row
FAMILIES="${ASLSEG_RESULTS_FAMILIES:-a b}"
PARADIGMS="${ASLSEG_RESULTS_PARADIGMS-mean_teacher}"  # set and empty: no SSL-only rows
SETS=()  # the config overrides of every training run
for kv in ${ASLSEG_RESULTS_SET:-}; do SETS+=(--set "$kv"); done
PY="${ASLSEG_PYTHON:-python3}"
if ! "$PY" -c "import matplotlib" 2>/dev/null && /usr/bin/python3 -c "import matplotlib" 2>/dev/null
then PY=/usr/bin/python3; fi
source scripts/families.sh

mkdir -p "$OUT"
BIN="$OUT/aslseg"
[ -x "$BIN" ] || cp "$SOURCE_BIN" "$BIN"  # one binary for every run, whatever the build does
MEMBERS=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['loop'].get('ss_members', 1))" "$CONFIG")
# The loop's component filter (docs/loop.md): the baselines get the same post-processing,
# fitted on their own labelled volumes, so that the rows differ in the labels only.
FILTER_THRESHOLD=$("$PY" -c "
import json, sys
f = json.load(open(sys.argv[1])).get('loop', {}).get('component_filter', {})
print(f.get('threshold', 0.3) if f.get('enabled', True) else 'off')" "$CONFIG")
# A loop's round 1 is the 10 % ensemble of its own paradigm (same nets, seeds, labels and
# steps): that row is read from the loop (loop_results.py) instead of trained twice.
LOOP_PARADIGM=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1])).get('ssl', {}).get('paradigm', 'mean_teacher'))" "$CONFIG")

# links DATA SPLIT KEY DIR: the split's KEY cases (volumes and labels) linked into DIR.
links() {
  local data="$1" split="$2" key="$3" dir="$4"
  mkdir -p "$dir/images" "$dir/labels"
  for id in $("$PY" -c "import json,sys; print(' '.join(json.load(open(sys.argv[1]))[sys.argv[2]]))" "$split" "$key"); do
    ln -sf "$(realpath "$data/volume-$id.nii.gz")" "$dir/images/volume-$id.nii.gz"
    ln -sf "$(realpath "$data/segmentation-$id.nii.gz")" "$dir/labels/segmentation-$id.nii.gz"
  done
}

# baseline DATA SHARE SEED DIR PARADIGM: MEMBERS nets (seeds SEED, SEED + 1, ...) trained with
# PARADIGM's loss on split<SHARE>.json (no loop), their ensemble's test metrics in
# DIR/test_metrics.json.
baseline() {
  local data="$1" share="$2" seed="$3" dir="$4" paradigm="$5"
  [ -f "$dir/test_metrics.json" ] && return 0
  local models=()
  for ((m = 0; m < MEMBERS; m++)); do
    local run="$dir/member_$m"
    [ -f "$run/summary.json" ] || {
      rm -rf "$run"
      "$BIN" -q train --config "$CONFIG" --data "$data" --split "$data/split$share.json" \
        --out "$run" "${SETS[@]}" --set ssl.paradigm="$paradigm" --set loop.rounds=0 \
        --set seed=$((seed + m)) >"$dir.member_$m.log" 2>&1
    }
    models+=("$run/ss/checkpoint.pt")
  done
  rm -rf "$dir/pred"
  local model filter=()
  model="$(IFS=,; echo "${models[*]}")"
  if [ "$FILTER_THRESHOLD" != off ]; then
    # The loop's post-processing, fitted the same way on this row's own labelled volumes.
    "$BIN" -q component-filter --model "$model" --data "$data" --split "$data/split$share.json" \
      --out "$dir/component_filter.json" --threshold "$FILTER_THRESHOLD" >"$dir.filter.log" 2>&1
    filter=(--component-filter "$dir/component_filter.json")
  fi
  "$BIN" -q infer --model "$model" "${filter[@]}" --input "$data/test/images" \
    --output "$dir/pred" >"$dir.infer.log" 2>&1
  "$BIN" -q evaluate --pred "$dir/pred" --gt "$data/test/labels" --out "$dir/test_metrics.json" \
    >"$dir.evaluate.log" 2>&1
}

start_all=$(date +%s)
for f in $FAMILIES; do
  make_family "$BIN" "$OUT/family_$f" "$f"
  [ -d "$OUT/family_$f/test" ] || links "$OUT/family_$f" "$OUT/family_$f/split10.json" test "$OUT/family_$f/test"
done
# Seed by seed, so that an interrupted run leaves whole seeds behind.
for seed in $SEEDS; do
  for f in $FAMILIES; do
    data="$OUT/family_$f"
    loop="$OUT/$f-loop-seed$seed"
    if [ ! -f "$loop/summary.json" ]; then
      echo "family $f seed $seed: the loop ($CONFIG)"
      start=$(date +%s)
      "$BIN" -q train --config "$CONFIG" --data "$data" --split "$data/split10.json" --out "$loop" \
        "${SETS[@]}" --set seed="$seed" >"$loop.log" 2>&1 || echo "  failed: see $loop.log"
      echo $(( $(date +%s) - start )) >"$loop.seconds"
    fi
    for share in 10 100; do
      [ "$share" = 100 ] && [[ " $UPPER_SEEDS " != *" $seed "* ]] && continue
      [ "$share" = 10 ] && [ "$LOOP_PARADIGM" = supervised ] && continue  # the loop's round 1
      echo "family $f seed $seed: supervised $share %"
      mkdir -p "$OUT/$f-sup$share-seed$seed"
      baseline "$data" "$share" "$seed" "$OUT/$f-sup$share-seed$seed" supervised ||
        echo "  failed: see $OUT/$f-sup$share-seed$seed.*.log"
    done
    for p in $PARADIGMS; do
      [ "$p" = "$LOOP_PARADIGM" ] && continue  # the loop's round 1
      echo "family $f seed $seed: SSL only ($p) 10 %"
      mkdir -p "$OUT/$f-ssl10-$p-seed$seed"
      baseline "$data" 10 "$seed" "$OUT/$f-ssl10-$p-seed$seed" "$p" ||
        echo "  failed: see $OUT/$f-ssl10-$p-seed$seed.*.log"
    done
  done
done
echo "runs took $(( ($(date +%s) - start_all) / 60 )) min"

"$PY" scripts/loop_results.py --out "$OUT" --config "$CONFIG" --set "${ASLSEG_RESULTS_SET:-}" --seeds $SEEDS --families $FAMILIES \
  --paradigms $PARADIGMS \
  $([ -n "${ASLSEG_RESULTS_NO_DOC:-}" ] || echo "--doc docs/loop_results.md")

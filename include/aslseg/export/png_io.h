// PNG files through ITK's PNGImageIO (the export overlays).
#pragma once

#include <filesystem>
#include <string>

#include "aslseg/export/rgb_image.h"

namespace aslseg::exporting {

// Atomic (temporary name, then rename); InputError naming the file on failure.
void write_png(const RgbImage& image, const std::filesystem::path& path);

// The bytes of the PNG file write_png makes (written as `scratch_dir`/inline.png, read back and
// removed; the caller owns the folder): the run report inlines them.
std::string encode_png(const RgbImage& image, const std::filesystem::path& scratch_dir);

// Reads a PNG as RGB (grey files are expanded); InputError naming the file when it is not a
// readable 2D PNG.
RgbImage read_png(const std::filesystem::path& path);

}  // namespace aslseg::exporting

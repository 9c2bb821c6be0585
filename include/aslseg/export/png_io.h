// PNG files through ITK's PNGImageIO (the export overlays).
#pragma once

#include <filesystem>

#include "aslseg/export/rgb_image.h"

namespace aslseg::exporting {

// Atomic (temporary name, then rename); InputError naming the file on failure.
void write_png(const RgbImage& image, const std::filesystem::path& path);

// Reads a PNG as RGB (grey files are expanded); InputError naming the file when it is not a
// readable 2D PNG.
RgbImage read_png(const std::filesystem::path& path);

}  // namespace aslseg::exporting

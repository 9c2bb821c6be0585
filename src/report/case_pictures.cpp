#include "aslseg/report/case_pictures.h"

#include <algorithm>

#include "aslseg/export/overlay.h"
#include "aslseg/export/png_io.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/report/svg_chart.h"

namespace aslseg::report {

namespace fs = std::filesystem;

std::vector<int64_t> pick_slices(const std::vector<const LabelMap*>& maps, int count) {
  if (maps.empty() || count <= 0) return {};
  const Geometry& g = maps.front()->geometry;
  const int64_t n = g.slice_voxels();
  std::vector<std::pair<int64_t, int64_t>> tumour;  // (-voxels, z): most first, then lowest z
  for (int64_t z = 0; z < g.size[2]; ++z) {
    int64_t voxels = 0;
    for (int64_t i = 0; i < n; ++i)
      for (const LabelMap* m : maps)
        if (m->slice(z)[i] == kTumour) {
          ++voxels;
          break;
        }
    if (voxels > 0) tumour.emplace_back(-voxels, z);
  }
  std::vector<int64_t> out;
  std::sort(tumour.begin(), tumour.end());
  for (size_t i = 0; i < tumour.size() && out.size() < static_cast<size_t>(count); ++i)
    out.push_back(tumour[i].second);
  // No tumour anywhere: overlay_slice's rule then comes down to the most liver of the first map
  // (the label when known), as the export's overlay shows.
  if (out.empty())
    out.push_back(exporting::overlay_slice(*maps.front(), *maps.front(), *maps.front()));
  std::sort(out.begin(), out.end());
  return out;
}

CasePictures render_case(const fs::path& image, const std::optional<fs::path>& label,
                         const fs::path& pl1, const fs::path& pl2, const fs::path& pl3, int count,
                         const fs::path& scratch_dir) {
  const Image ct = io::read_image(image);
  auto read_or_empty = [&](const fs::path& p) {
    if (fs::exists(p)) return io::read_labels_matching(p, ct.geometry);
    return LabelMap(ct.geometry, kBackground);
  };
  const LabelMap p1 = io::read_labels_matching(pl1, ct.geometry);
  const LabelMap p2 = read_or_empty(pl2);
  const LabelMap p3 = read_or_empty(pl3);
  std::optional<LabelMap> truth;
  if (label) truth = io::read_labels_matching(*label, ct.geometry);

  // The label (or PL1) first: its liver picks the slice when no map has tumour.
  std::vector<const LabelMap*> maps{truth ? &*truth : &p1, &p1, &p2, &p3};
  CasePictures out;
  for (const int64_t z : pick_slices(maps, count)) {
    const exporting::RgbImage picture =
        exporting::render_overlay(ct, p1, p2, p3, z, truth ? &*truth : nullptr);
    out.slices.push_back(
        {z, "data:image/png;base64," + base64(exporting::encode_png(picture, scratch_dir))});
  }
  return out;
}

}  // namespace aslseg::report

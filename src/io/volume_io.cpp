// TEMPORARY stub so the tree links while the ITK implementation is written.
#include "aslseg/io/volume_io.h"

namespace aslseg::io {
namespace fs = std::filesystem;
Image read_image(const fs::path& p) { throw InputError(p.string(), "read_image: not yet"); }
LabelMap read_labels(const fs::path& p, bool) { throw InputError(p.string(), "not yet"); }
Geometry read_geometry(const fs::path& p) { throw InputError(p.string(), "not yet"); }
LabelMap read_labels_matching(const fs::path& p, const Geometry&) { throw InputError(p.string(), "not yet"); }
void write_labels(const LabelMap&, const fs::path& p) { throw InputError(p.string(), "not yet"); }
void write_image(const Image&, const fs::path& p, PixelType) { throw InputError(p.string(), "not yet"); }
bool is_volume_path(const fs::path&) { return false; }
std::string volume_stem(const fs::path& p) {
  std::string n = p.filename().string();
  for (const char* e : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr"}) {
    std::string ext(e);
    if (n.size() > ext.size() && n.compare(n.size() - ext.size(), ext.size(), ext) == 0)
      return n.substr(0, n.size() - ext.size());
  }
  return n;
}
}  // namespace aslseg::io

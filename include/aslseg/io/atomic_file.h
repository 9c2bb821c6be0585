// Write-to-temporary-then-rename, the one way every output of aslseg reaches disk.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace aslseg::io {

// A temporary path next to `final_path` that keeps its extension (ITK picks the format by
// extension): "out/case.nii.gz" -> "out/.case.tmp-<pid>-<n>.nii.gz".
std::filesystem::path temporary_sibling(const std::filesystem::path& final_path);

// Calls write(tmp) and renames tmp onto final_path; on any exception the temporary file is
// removed and the exception propagates. Creates the parent folder when missing.
void write_atomically(const std::filesystem::path& final_path,
                      const std::function<void(const std::filesystem::path&)>& write);

// Atomic text file (JSON, CSV, logs that must not be torn).
void write_text_atomically(const std::filesystem::path& final_path, const std::string& text);

}  // namespace aslseg::io

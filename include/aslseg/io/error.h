// Errors that name a file and what is wrong with it. The CLI turns an InputError into exit
// code 2 and one line on the console; batch commands record it and go on.
#pragma once

#include <stdexcept>
#include <string>

namespace aslseg {

// Bad input from the user: a missing, corrupt or mismatched file, or a bad option value.
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& path, const std::string& problem)
      : std::runtime_error(path.empty() ? problem : path + ": " + problem),
        path_(path),
        problem_(problem) {}
  const std::string& path() const { return path_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string path_;
  std::string problem_;
};

}  // namespace aslseg

// placeholder
#include <CLI/CLI.hpp>
#include "aslseg/cli/app.h"
namespace aslseg::cli {
void register_dataset(CLI::App& app, CommandContext&) {
  app.add_subcommand("dataset", "dataset tools");
}
}  // namespace aslseg::cli

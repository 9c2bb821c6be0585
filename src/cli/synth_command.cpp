// placeholder until the synth helper lands it
#include <CLI/CLI.hpp>
#include "aslseg/cli/app.h"
namespace aslseg::cli {
void register_synth(CLI::App& app, CommandContext&) { app.add_subcommand("synth", "CT-like phantoms"); }
}  // namespace aslseg::cli

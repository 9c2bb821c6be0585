// placeholder until the metrics helper lands it
#include <CLI/CLI.hpp>
#include "aslseg/cli/app.h"
namespace aslseg::cli {
void register_evaluate(CLI::App& app, CommandContext&) { app.add_subcommand("evaluate", "Dice, Jaccard, HD95, ASD per case and class"); }
}  // namespace aslseg::cli

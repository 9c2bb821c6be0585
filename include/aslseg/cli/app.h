// The aslseg command line: one CLI11 app, one subcommand per pipeline stage (DESIGN.md,
// "Commands"). Each subcommand lives in its own src/cli/<name>_command.cpp and registers
// itself through a function declared here.
#pragma once

#include <filesystem>

namespace CLI {
class App;
}

namespace aslseg::cli {

// Exit codes shared by every command (DESIGN.md): 0 success, 2 bad usage or input
// (including a batch in which some cases failed), 1 internal error.
enum ExitCode : int { kExitOk = 0, kExitInternal = 1, kExitBadInput = 2 };

// State a command hands back to main(): a batch command that skipped failed cases sets
// exit_code to kExitBadInput instead of throwing.
struct CommandContext {
  int exit_code = kExitOk;
};

void register_train(CLI::App& app, CommandContext& ctx);
void register_infer(CLI::App& app, CommandContext& ctx);
void register_export(CLI::App& app, CommandContext& ctx);
void register_evaluate(CLI::App& app, CommandContext& ctx);
void register_synth(CLI::App& app, CommandContext& ctx);
void register_dataset(CLI::App& app, CommandContext& ctx);
void register_sam(CLI::App& app, CommandContext& ctx);
void register_report(CLI::App& app, CommandContext& ctx);
void register_component_filter(CLI::App& app, CommandContext& ctx);

// Parses argv, runs the chosen command, maps exceptions to exit codes.
int run(int argc, char** argv);

// Adds `path` (e.g. RUN/log.txt) as a second log sink next to the console.
void add_log_file(const std::filesystem::path& path);

}  // namespace aslseg::cli

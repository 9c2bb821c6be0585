// Subcommands whose stages are not built yet (the loop; `sam` lives in sam_command.cpp). They are
// registered so that `aslseg --help` shows the whole pipeline, and they say plainly that they
// are not available instead of pretending to work.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "aslseg/cli/app.h"

namespace aslseg::cli {

namespace {

void add_pending(CLI::App& app, CommandContext& ctx, const std::string& name,
                 const std::string& description, const std::string& stage) {
  auto* sub = app.add_subcommand(name, description + "\n[not built yet: " + stage + "]");
  sub->allow_extras();
  sub->fallthrough(false);  // keep the unknown options here instead of failing in the parent
  sub->callback([&ctx, name, stage] {
    spdlog::error("'aslseg {}' is not built yet ({}); see the README for what works today.", name,
                  stage);
    ctx.exit_code = kExitBadInput;
  });
}

}  // namespace

}  // namespace aslseg::cli

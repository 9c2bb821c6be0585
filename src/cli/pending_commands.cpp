// Subcommands whose stages are not built yet (issues: SSL stage, SAM port, the loop). They are
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

void register_export(CLI::App& app, CommandContext& ctx) {
  add_pending(app, ctx, "export",
              "Export the selected pseudo-label sets (lits | nnunet | plain) with manifest.json.",
              "needs the loop");
}

void register_sam(CLI::App& app, CommandContext& ctx) {
  add_pending(app, ctx, "sam", "Run SAM on one slice with a box and/or points.",
              "needs the SAM port");
}

}  // namespace aslseg::cli

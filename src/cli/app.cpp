#include "aslseg/cli/app.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "aslseg/core/runtime.h"
#include "aslseg/io/error.h"

namespace aslseg::cli {

namespace {

void setup_console_logger(int verbosity, bool quiet) {
  auto logger = spdlog::stderr_color_mt("aslseg");
  logger->set_pattern("%^[%H:%M:%S %l]%$ %v");
  spdlog::level::level_enum level = spdlog::level::info;
  if (quiet) level = spdlog::level::warn;
  if (verbosity == 1) level = spdlog::level::debug;
  if (verbosity >= 2) level = spdlog::level::trace;
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

}  // namespace

void add_log_file(const std::filesystem::path& path) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path.string(), false);
  sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e %l] %v");
  sink->set_level(spdlog::level::debug);
  auto logger = spdlog::default_logger();
  logger->sinks().push_back(sink);
  // The file keeps debug detail even when the console is quieter.
  if (logger->level() > spdlog::level::debug) {
    for (auto& s : logger->sinks())
      if (s != sink) s->set_level(logger->level());
    logger->set_level(spdlog::level::debug);
  }
  logger->flush_on(spdlog::level::info);
}

int run(int argc, char** argv) {
  // Before anything allocates a tensor (core/runtime.h).
  const bool kept_memory = core::keep_freed_memory();
  CLI::App app{
      "aslseg: semi-supervised liver-tumour segmentation on CT (ASLseg: Adapting SAM in the "
      "Loop).\nA segmentation net proposes pseudo-labels, SAM refines them from prompts, an "
      "adaptation net\ncorrects SAM, and reliable pseudo-labels join the labelled set for the "
      "next round.",
      "aslseg"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("aslseg ") + ASLSEG_VERSION);
  int verbosity = 0;
  bool quiet = false;
  int threads = 0;
  app.add_flag("-v,--verbose", verbosity, "More log detail (-vv for trace)");
  app.add_flag("-q,--quiet", quiet, "Only warnings and errors");
  app.add_option("--threads", threads,
                 "CPU threads for LibTorch in every command (default 0: the CPUs this process may "
                 "use, or $OMP_NUM_THREADS when set)")
      ->check(CLI::NonNegativeNumber);
  app.footer(
      "Run 'aslseg <command> --help' for a command's options.\n"
      "Exit codes: 0 success, 2 bad usage or input (or some cases of a batch failed), 1 "
      "internal error.");

  CommandContext ctx;
  register_train(app, ctx);
  register_infer(app, ctx);
  register_export(app, ctx);
  register_evaluate(app, ctx);
  register_synth(app, ctx);
  register_dataset(app, ctx);
  register_sam(app, ctx);
  register_report(app, ctx);
  register_component_filter(app, ctx);

  // Logging must be configured before any command callback runs.
  app.parse_complete_callback([&] {
    setup_console_logger(verbosity, quiet);
    const core::ThreadSettings t = core::apply_threads(threads);
    spdlog::debug(
        "CPU: {} intra-op thread(s) (from {}), {} inter-op; malloc keeps freed memory: {}",
        t.intra_op, t.source, t.inter_op, kept_memory ? "yes" : "no");
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  } catch (const InputError& e) {
    if (spdlog::default_logger()) spdlog::error("{}", e.what());
    return kExitBadInput;
  } catch (const std::exception& e) {
    spdlog::critical("internal error: {}", e.what());
    return kExitInternal;
  }
  spdlog::default_logger()->flush();
  return ctx.exit_code;
}

}  // namespace aslseg::cli

// braid-run: the local launcher. Hosts the job's TCP store, starts N ranks of a command with
// the environment they bootstrap from (BRAID_STORE_ADDR, BRAID_JOB_TOKEN, RANK, ...), and
// supervises them until the job ends (tools/launcher.h). With --hosts K it spreads the ranks
// over K simulated hosts (network namespaces of scripts/netns-cluster; tools/netns_hosts.h).
#include <fmt/format.h>
#include <sys/random.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "braid/store.h"
#include "launcher.h"
#include "netns_hosts.h"

extern char** environ;

namespace {

namespace launcher = braid::launcher;

// Set by braid-run for every rank; --env may not override them.
const std::set<std::string> kReservedVariables = {
    "BRAID_STORE_ADDR", "BRAID_JOB_TOKEN",  "RANK",     "WORLD_SIZE",
    "LOCAL_RANK",       "LOCAL_WORLD_SIZE", "BRAID_RUN"};

constexpr const char* kFooter =
    R"(Each rank runs with its own process group and with, besides braid-run's environment:
  BRAID_STORE_ADDR=127.0.0.1:<port>   the TCP store braid-run hosts for the job
  BRAID_JOB_TOKEN=<16 hex digits>     the job's secret for the store and the transports
  RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, BRAID_RUN=1
Ranks read stdin from /dev/null. Their output lines appear as "[rank] line".
When a rank fails, the others get SIGTERM, then SIGKILL after --grace seconds; SIGINT,
SIGTERM and SIGHUP sent to braid-run are forwarded the same way (a second one kills).
With --hosts K, the ranks run in the network namespaces <prefix>h0..h<K-1> made by
`scripts/netns-cluster up K` (run as root), in blocks: ranks 0..N/K-1 in h0, the next
block in h1, ...; when K does not divide N the first N%K hosts get one rank more. Each rank
also gets BRAID_HOST_ID=<its namespace> (namespaces share the boot id), BRAID_SOCKET_ADDR=
<its namespace's address>, and LOCAL_RANK/LOCAL_WORLD_SIZE counted within its host; the
store is served inside h0 at h0's address.
Exit status: 0 when every rank exited 0; else the first failing rank's status (128+signal
when killed), 124 on --timeout, 127 when the command cannot run, 128+signal when
braid-run was interrupted, 2 for a bad command line, 1 when braid-run itself failed.)";

int usageError(const std::string& message) {
  fmt::print(stderr, "braid-run: {} (see --help)\n", message);
  return launcher::kExitUsage;
}

std::string variableName(const std::string& assignment) {
  return assignment.substr(0, assignment.find('='));
}

int runMain(int argc, char** argv) {
  launcher::prepareProcess();  // before the store's thread exists

  CLI::App app("Start N local ranks of a braid program and supervise them.", "braid-run");
  // Usage: braid-run [OPTIONS] -n N [--] COMMAND [ARGS...]
  app.get_formatter()->label("OPTIONS", "OPTIONS] -n N [--] COMMAND [ARGS...");
  app.footer(kFooter);
  int np = 0;
  double graceSec = 5.0;
  double timeoutSec = 0.0;
  bool noPrefix = false;
  bool rank0Only = false;
  int outputFilter = -1;
  bool verbose = false;
  int hostCount = 0;
  std::string netnsPrefix = "braid-";
  std::vector<std::string> extraEnv;
  app.add_option("-n,--np", np, "number of ranks to start (1..1024)")
      ->required()
      ->check(CLI::Range(1, 1024));
  app.add_option("--grace", graceSec,
                 "seconds between SIGTERM and SIGKILL when the job is torn down (default 5)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--timeout", timeoutSec,
                 "end the job (exit status 124) when it runs longer than this; 0 = never")
      ->check(CLI::Range(0.0, 1e9));
  app.add_flag("--no-prefix", noPrefix, "do not prefix output lines with \"[rank] \"");
  auto* filter = app.add_option("--output-filter", outputFilter,
                                "show only this rank's stdout (stderr of all ranks is shown)");
  app.add_flag("--rank0-only", rank0Only, "same as --output-filter 0")->excludes(filter);
  app.add_option("--env", extraEnv, "KEY=VALUE added to every rank's environment (repeatable)")
      ->allow_extra_args(false);
  app.add_flag("-v,--verbose", verbose, "report the store address, each rank's pid and exit");
  app.add_option("--hosts", hostCount,
                 "spread the ranks in blocks over K simulated hosts: the network namespaces "
                 "made by scripts/netns-cluster up K (needs root)")
      ->check(CLI::Range(1, 64));
  app.add_option("--netns-prefix", netnsPrefix,
                 "name prefix of the simulated hosts' namespaces (default braid-: braid-h0, ...)");
  app.prefix_command();  // the first non-option argument starts the command
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (!what.empty() && what.back() == '\n') what.pop_back();
    return usageError(what);
  }

  std::vector<std::string> command = app.remaining();
  if (!command.empty() && command.front() == "--") {
    command.erase(command.begin());
  } else if (!command.empty() && command.front().size() > 1 && command.front()[0] == '-') {
    return usageError("unknown option " + command.front());
  }
  if (command.empty()) return usageError("no command given");
  if (rank0Only) outputFilter = 0;
  if (filter->count() > 0 && (outputFilter < 0 || outputFilter >= np)) {
    return usageError(
        fmt::format("--output-filter {} is not a rank of 0..{}", outputFilter, np - 1));
  }
  if (hostCount > np) {
    return usageError(
        fmt::format("--hosts {} needs at least {} ranks (-n {})", hostCount, hostCount, np));
  }
  std::set<std::string> reserved = kReservedVariables;
  if (hostCount > 0) reserved.insert({"BRAID_HOST_ID", "BRAID_SOCKET_ADDR"});
  std::set<std::string> overridden;
  for (const std::string& kv : extraEnv) {
    std::string name = variableName(kv);
    if (kv.find('=') == std::string::npos || name.empty()) {
      return usageError("--env expects KEY=VALUE, got '" + kv + "'");
    }
    if (reserved.count(name) > 0) {
      return usageError("--env cannot set " + name + ": braid-run sets it for each rank");
    }
    overridden.insert(name);
  }

  uint64_t token = 0;
  if (::getrandom(&token, sizeof token, 0) != static_cast<ssize_t>(sizeof token)) {
    fmt::print(stderr, "braid-run: getrandom: {}\n", std::strerror(errno));
    return launcher::kExitInternal;
  }
  std::vector<launcher::SimulatedHost> hosts;
  std::string storeHost = "127.0.0.1";
  std::unique_ptr<launcher::InNetworkNamespace> inHost0;
  auto cannotStart = [](const braid::Status& s) {
    fmt::print(stderr, "braid-run: {}\n", s.message());
    return launcher::kExitInternal;
  };
  if (hostCount > 0) {
    auto found = launcher::findSimulatedHosts(netnsPrefix, hostCount);
    if (!found.isOk()) return cannotStart(found.status());
    hosts = *found;
    storeHost = hosts[0].address;
    auto entered = launcher::InNetworkNamespace::enter(hosts[0].path);
    if (!entered.isOk()) return cannotStart(entered.status());
    inHost0 = std::move(*entered);
  }
  auto server = braid::startTcpStoreServer(storeHost, 0, token);
  inHost0.reset();  // the store's socket stays in host 0; braid-run itself goes back
  if (!server.isOk()) {
    fmt::print(stderr, "braid-run: cannot start the TCP store: {}\n", server.status().toString());
    return launcher::kExitInternal;
  }
  std::string storeAddr = fmt::format("{}:{}", storeHost, (*server)->port());
  if (verbose) fmt::print(stderr, "braid-run: TCP store at {}\n", storeAddr);

  std::vector<std::string> base;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string name = variableName(*e);
    if (reserved.count(name) == 0 && overridden.count(name) == 0) base.push_back(*e);
  }
  base.insert(base.end(), extraEnv.begin(), extraEnv.end());
  launcher::JobOptions options;
  options.argv = command;
  options.graceSec = graceSec;
  options.timeoutSec = timeoutSec;
  options.prefix = !noPrefix;
  options.stdoutRank = outputFilter;
  options.verbose = verbose;
  std::vector<int> hostOf = launcher::blockPlacement(np, std::max(hostCount, 1));
  for (int rank = 0; rank < np; ++rank) {
    const int host = hostOf[rank];
    const auto first = std::find(hostOf.begin(), hostOf.end(), host);
    std::vector<std::string> env = base;
    env.push_back("BRAID_STORE_ADDR=" + storeAddr);
    env.push_back(fmt::format("BRAID_JOB_TOKEN={:016x}", token));
    env.push_back(fmt::format("RANK={}", rank));
    env.push_back(fmt::format("WORLD_SIZE={}", np));
    env.push_back(fmt::format("LOCAL_RANK={}", rank - (first - hostOf.begin())));
    env.push_back(fmt::format("LOCAL_WORLD_SIZE={}", std::count(first, hostOf.end(), host)));
    env.push_back("BRAID_RUN=1");
    if (!hosts.empty()) {
      if (verbose) {
        fmt::print(stderr, "braid-run: rank {} on {} ({})\n", rank, hosts[host].name,
                   hosts[host].address);
      }
      env.push_back("BRAID_HOST_ID=" + hosts[host].name);
      env.push_back("BRAID_SOCKET_ADDR=" + hosts[host].address);
      options.netns.push_back(hosts[host].path);
    }
    options.envs.push_back(std::move(env));
  }
  return launcher::runJob(options);  // the store lives until here
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return runMain(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid-run: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "braid-run: internal error\n");
  }
  return braid::launcher::kExitInternal;
}

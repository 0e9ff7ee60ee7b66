// Process supervision for braid-run: spawns the ranks of a local job, pumps their output line by
// line with a rank prefix, reaps them, and tears the whole job down (SIGTERM, grace, SIGKILL)
// when one rank fails, the job times out or braid-run is interrupted. Kept apart from the
// command line and the store so that it can be reasoned about and tested on its own.
#pragma once

#include <string>
#include <vector>

namespace braid::launcher {

// braid-run's exit statuses besides a failing rank's own (its exit status, or 128 + signal).
inline constexpr int kExitInternal = 1;     // the launcher itself failed (fork, pipe, limits)
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitTimeout = 124;    // --timeout expired
inline constexpr int kExitCannotRun = 127;  // the command could not be executed

struct JobOptions {
  // The command and its arguments; argv[0] without a '/' is searched in the rank's PATH.
  std::vector<std::string> argv;
  // One complete environment ("KEY=VALUE" strings) per rank; its size is the number of ranks.
  std::vector<std::vector<std::string>> envs;
  // Empty, or one entry per rank: a network namespace file (/run/netns/NAME) the rank enters
  // with setns(2) before exec ("" = braid-run's own). braid-run --hosts uses it.
  std::vector<std::string> netns;
  double graceSec = 5.0;    // between SIGTERM and SIGKILL when the job is torn down
  double timeoutSec = 0.0;  // 0 = no limit
  bool prefix = true;       // prefix each output line with "[rank] "
  int stdoutRank = -1;      // show only this rank's stdout (-1 = every rank's)
  bool verbose = false;     // report spawns and clean exits too
  int outFd = 1;            // where the ranks' stdout goes
  int errFd = 2;            // where the ranks' stderr and braid-run's own messages go
};

// Call first thing in main, before any thread is started: blocks the signals the launcher
// waits for (SIGCHLD, SIGINT, SIGTERM, SIGHUP) so that every later thread inherits the mask
// and they are only ever seen through runJob's signalfd; ignores SIGPIPE (a closed stdout must
// not kill the supervisor); makes sure fds 0-2 are open. Ranks get the original mask back.
void prepareProcess();

// Runs the job to completion and returns braid-run's exit status: 0 when every rank exited 0,
// else the status of the event that ended the job (see the constants above).
int runJob(const JobOptions& options);

// "exited with status 3" / "killed by signal 9 (SIGKILL)" for a waitpid status.
std::string describeWaitStatus(int status);

}  // namespace braid::launcher

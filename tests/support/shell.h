// Test helper: run a shell command and capture its output, exit status and duration.
#pragma once

#include <string>

namespace braid::testing {

struct Ran {
  int exitCode = -1;
  std::string output;  // stdout and stderr together
  double seconds = 0;
};

Ran runShell(const std::string& command);

// How many processes have `assignment` ("KEY=VALUE") in their environment. Tests mark the
// processes they start this way (braid-run --env) to count their own leftovers only, not those
// of tests running in parallel.
int processesWithEnvironment(const std::string& assignment);

}  // namespace braid::testing

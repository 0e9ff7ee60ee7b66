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

}  // namespace braid::testing

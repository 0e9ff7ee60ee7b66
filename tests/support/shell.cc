// Runs shell commands for the multi-process tests.
#include "support/shell.h"

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace braid::testing {

Ran runShell(const std::string& command) {
  Ran r;
  auto t0 = std::chrono::steady_clock::now();
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, got);
  int status = pclose(p);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

int processesWithEnvironment(const std::string& assignment) {
  // environ is NUL-separated: match the whole entry, not a prefix of a longer value.
  Ran r = runShell("grep -l -s -a -z -x -F '" + assignment + "' /proc/[0-9]*/environ | wc -l");
  return std::atoi(r.output.c_str());
}

}  // namespace braid::testing

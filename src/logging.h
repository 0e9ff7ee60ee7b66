// Leveled, per-subsystem logging to stderr: "host:pid:rank LEVEL SUBSYS message".
// BRAID_DEBUG picks the level, BRAID_DEBUG_SUBSYS the subsystems.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace braid {

enum class LogLevel : int { kError = 0, kWarn = 1, kInfo = 2, kTrace = 3 };
enum class Subsys : int { kInit = 0, kColl, kNet, kShm, kBoot, kTune };

bool logEnabled(LogLevel level, Subsys subsys);
void logWrite(LogLevel level, Subsys subsys, std::string_view message);
// The rank shown in the prefix of this thread's lines (-1 = unknown, shown as "-").
void setLogRank(int rank);

}  // namespace braid

#define BRAID_LOG(level, subsys, ...)                                           \
  do {                                                                          \
    if (::braid::logEnabled(::braid::LogLevel::level, ::braid::Subsys::subsys)) \
      ::braid::logWrite(::braid::LogLevel::level, ::braid::Subsys::subsys,      \
                        fmt::format(__VA_ARGS__));                              \
  } while (0)

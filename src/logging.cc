// Logging: level and subsystem filters from BRAID_DEBUG / BRAID_DEBUG_SUBSYS, one line per
// message prefixed host:pid:rank, written with a single write(2) so ranks do not interleave.
#include "logging.h"

#include <unistd.h>

#include <array>
#include <cstring>
#include <string>

#include "params.h"

namespace braid {
namespace {

constexpr std::array<const char*, 6> kSubsysNames = {"INIT", "COLL", "NET", "SHM", "BOOT", "TUNE"};
constexpr std::array<const char*, 4> kLevelNames = {"ERROR", "WARN", "INFO", "TRACE"};

struct Filter {
  LogLevel level = LogLevel::kWarn;
  unsigned subsysMask = ~0u;
};

Filter parseFilter() {
  Filter f;
  const Params& p = params();
  std::string level = p.debug;
  for (auto& c : level) c = static_cast<char>(toupper(c));
  for (size_t i = 0; i < kLevelNames.size(); ++i) {
    if (level == kLevelNames[i]) f.level = static_cast<LogLevel>(i);
  }
  if (level == "WARNING") f.level = LogLevel::kWarn;
  std::string list = p.debugSubsys;
  if (!list.empty() && list != "ALL") {
    bool exclude = list[0] == '^';
    unsigned mask = 0;
    size_t pos = exclude ? 1 : 0;
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      std::string item =
          list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      for (auto& c : item) c = static_cast<char>(toupper(c));
      for (size_t i = 0; i < kSubsysNames.size(); ++i) {
        if (item == kSubsysNames[i]) mask |= 1u << i;
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    f.subsysMask = exclude ? ~mask : mask;
  }
  return f;
}

const Filter& filter() {
  static const Filter f = parseFilter();
  return f;
}

thread_local int tlsRank = -1;

const std::string& hostName() {
  static const std::string name = [] {
    char buf[256] = {};
    gethostname(buf, sizeof(buf) - 1);
    return std::string(buf);
  }();
  return name;
}

}  // namespace

bool logEnabled(LogLevel level, Subsys subsys) {
  const Filter& f = filter();
  if (level > f.level) return false;
  if (level == LogLevel::kError) return true;
  return (f.subsysMask >> static_cast<int>(subsys)) & 1u;
}

void logWrite(LogLevel level, Subsys subsys, std::string_view message) {
  std::string rank = tlsRank >= 0 ? std::to_string(tlsRank) : "-";
  std::string line = fmt::format("{}:{}:{} braid {} {} {}\n", hostName(), getpid(), rank,
                                 kLevelNames[static_cast<int>(level)],
                                 kSubsysNames[static_cast<int>(subsys)], message);
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

void setLogRank(int rank) { tlsRank = rank; }

}  // namespace braid

// The human table (stdout) and the JSON record of a braid-bench run.
#include "report.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace braid::bench {
namespace {

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::string hostName() {
  char buf[256] = {};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

bool hasOtherPlacement(const Options& o) { return !o.inPlaceOnly; }

// A non-negative number, else null (unknown).
std::string numberOrNull(double v) {
  if (v < 0) return "null";
  std::ostringstream s;
  s << v;
  return s.str();
}

// How a row names its algorithm: the tuner's series as "auto(<what it picked>)".
std::string labelOf(const Row& r) {
  return r.algo == "auto" && !r.chosen.empty() ? "auto(" + r.chosen + ")" : r.algo;
}

}  // namespace

Report::Report(Communicator& comm, const std::vector<Series>& series, const Options& o)
    : comm_(comm), series_(series), o_(o) {
  // Next to other series, a column names the tuner's pick and its predicted time.
  for (const Series& s : series_) tunerColumn_ = tunerColumn_ || s.algo == "auto";
  tunerColumn_ = tunerColumn_ && series_.size() > 1;
}

void Report::printHeader() const {
  std::string labels;
  for (const Series& s : series_) labels += (labels.empty() ? "" : ", ") + s.label;
  std::string transport = series_.empty() ? "" : series_[0].backend->transport();
  std::printf("# braid-bench: %d ranks, braid %s, device %s, transport %s, series: %s\n",
              comm_.size(), versionString(), o_.device.c_str(), transport.c_str(), labels.c_str());
  std::printf("# %d timed iterations (%s), %d warm-ups, %d checked", o_.iterations,
              o_.loopTiming ? "time = avg = back-to-back mean between two CUDA events, the "
                              "slowest rank's"
                            : "time = median over iterations of the slowest rank; avg = "
                              "back-to-back mean",
              o_.warmups, o_.checkIterations);
  if (o_.iterBytes > 0) {
    std::printf("; fewer where iterations x size > %zu B (at least 3)", o_.iterBytes);
  }
  std::printf("\n");
  std::fflush(stdout);
}

void Report::printColumns(Collective c) const {
  std::printf("#\n# %s\n", std::string(collectiveName(c)).c_str());
  std::string top = "#                                          ";
  std::string cols = "#     size(B)      count  type redop root ";
  for (int place = o_.inPlaceOnly ? 1 : 0; place < 2; ++place) {
    for (const Series& s : series_) {
      char head[64];
      std::snprintf(head, sizeof(head), "| %-46s",
                    (s.label + (place ? " in-place" : " out-of-place")).c_str());
      top += head;
      cols += "|  time(us)   avg(us)   algbw   busbw  #wrong ";
    }
  }
  if (series_.size() == 2) {
    top += "| busbw ratio";
    cols += hasOtherPlacement(o_) ? "|   oop    ip" : "|    ip";
  }
  if (tunerColumn_) {
    top += "| tuner";
    cols += "| pick  predicted(us)";
  }
  std::printf("%s\n%s\n", top.c_str(), cols.c_str());
  std::fflush(stdout);
}

void Report::printRow(const std::vector<Row>& rows) const {
  if (rows.empty()) return;
  const Row& first = rows[0];
  std::printf("%13zu %10zu %5s %5s %4d ", first.bytes, first.count,
              std::string(toString(first.dtype)).c_str(),
              reduces(first.collective) ? std::string(toString(first.op)).c_str() : "none",
              first.root);
  for (const Row& r : rows) {
    if (!r.supported) {
      std::printf("| %9s %9s %7s %7s %7s ", "n/a", "", "", "", "");
    } else {
      std::printf("| %9.2f %9.2f %7.3f %7.3f %7llu ", r.timeUs, r.avgUs, r.algbw, r.busbw,
                  static_cast<unsigned long long>(r.wrong));
    }
  }
  if (series_.size() == 2) {
    std::printf("|");
    for (size_t i = 0; i + 1 < rows.size(); i += 2) {
      const Row& a = rows[i];
      const Row& b = rows[i + 1];
      if (a.supported && b.supported && b.busbw > 0) {
        std::printf(" %5.2f", a.busbw / b.busbw);
      } else {
        std::printf(" %5s", "n/a");
      }
    }
  }
  if (tunerColumn_) {
    const Row* pick = nullptr;
    for (const Row& r : rows) {
      if (pick == nullptr && r.supported && r.algo == "auto") pick = &r;
    }
    if (pick != nullptr && pick->predictedUs >= 0) {
      std::printf("| %s %.1f", labelOf(*pick).c_str(), pick->predictedUs);
    } else {
      std::printf("| %s n/a", pick != nullptr ? labelOf(*pick).c_str() : "n/a");
    }
  }
  std::printf("\n");
  std::fflush(stdout);
}

void Report::printFooter(const std::vector<Row>& all, double meanBusBw) const {
  uint64_t wrong = 0;
  for (const Row& r : all) wrong += r.wrong;
  std::printf("# wrong values: %llu%s\n", static_cast<unsigned long long>(wrong),
              wrong > 0 ? "  <-- RESULTS ARE WRONG" : "");
  std::printf("# mean busbw of braid rows: %.3f GB/s\n", meanBusBw);
  std::fflush(stdout);
}

Status Report::writeJson(const std::string& path, const std::vector<Row>& all) const {
  std::ofstream out(path);
  if (!out) return systemError("cannot write " + path);
  BuildFeatures f = buildFeatures();
  out << "{\n  \"tool\": \"braid-bench\",\n";
  out << "  \"version\": " << jsonString(versionString()) << ",\n";
  out << "  \"git_commit\": " << jsonString(BRAID_BENCH_COMMIT) << ",\n";
  out << "  \"features\": {\"cuda\": " << (f.cuda ? "true" : "false")
      << ", \"ucx\": " << (f.ucx ? "true" : "false")
      << ", \"ibverbs\": " << (f.ibverbs ? "true" : "false")
      << ", \"hwloc\": true, \"mpi\": " << (BRAID_BENCH_MPI ? "true" : "false")
      << ", \"nccl\": " << (BRAID_BENCH_NCCL ? "true" : "false") << "},\n";
  std::string colls;
  for (Collective c : o_.collectives)
    colls += (colls.empty() ? "" : ",") + std::string(collectiveName(c));
  out << "  \"collective\": " << jsonString(colls) << ",\n";
  out << "  \"ranks\": " << comm_.size() << ",\n";
  out << "  \"device\": " << jsonString(o_.device) << ",\n";
  out << "  \"command\": " << jsonString(o_.command) << ",\n";
  out << "  \"machine\": {\"hostname\": " << jsonString(hostName())
      << ", \"cpu_model\": " << jsonString(cpuModel())
      << ", \"cores\": " << std::thread::hardware_concurrency() << "},\n";
  out << "  \"environment\": {";
  bool firstEnv = true;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    if (kv.rfind("BRAID_", 0) != 0 || kv.rfind("BRAID_JOB_TOKEN", 0) == 0) continue;
    size_t eq = kv.find('=');
    out << (firstEnv ? "" : ", ") << jsonString(kv.substr(0, eq)) << ": "
        << jsonString(kv.substr(eq + 1));
    firstEnv = false;
  }
  out << "},\n";
  std::string backends, algos;
  for (const Series& s : series_) {
    if (backends.find(jsonString(s.backend->name())) == std::string::npos) {
      backends += (backends.empty() ? "" : ", ") + jsonString(s.backend->name());
    }
    algos += (algos.empty() ? "" : ", ") + jsonString(s.algo);
  }
  out << "  \"options\": {\"minbytes\": " << o_.minBytes << ", \"maxbytes\": " << o_.maxBytes
      << ", \"iters\": " << o_.iterations << ", \"warmups\": " << o_.warmups
      << ", \"check_iters\": " << o_.checkIterations << ", \"iter_bytes\": " << o_.iterBytes
      << ", \"timing\": \"" << (o_.loopTiming ? "loop" : "per-call") << "\""
      << ", \"backends\": [" << backends << "], \"algos\": [" << algos << "]},\n";
  out << "  \"rows\": [\n";
  bool firstRow = true;
  for (const Row& r : all) {
    if (!r.supported) continue;
    out << (firstRow ? "" : ",\n") << "    {\"backend\": " << jsonString(r.backend)
        << ", \"algo\": " << jsonString(r.algo) << ", \"chosen_algo\": " << jsonString(r.chosen)
        << ", \"label\": " << jsonString(labelOf(r))
        << ", \"predicted_us\": " << numberOrNull(r.predictedUs)
        << ", \"transport\": " << jsonString(r.transport)
        << ", \"collective\": " << jsonString(std::string(collectiveName(r.collective)))
        << ", \"bytes\": " << r.bytes << ", \"count\": " << r.count
        << ", \"dtype\": " << jsonString(std::string(toString(r.dtype)))
        << ", \"op\": " << jsonString(reduces(r.collective) ? std::string(toString(r.op)) : "none")
        << ", \"root\": " << r.root << ", \"inplace\": " << (r.inPlace ? "true" : "false")
        << ", \"iters\": " << r.iterations << ", \"time_us\": " << r.timeUs
        << ", \"time_avg_us\": " << r.avgUs << ", \"issue_us\": " << r.issueUs
        << ", \"algbw_gbs\": " << r.algbw << ", \"busbw_gbs\": " << r.busbw
        << ", \"wrong\": " << r.wrong << "}";
    firstRow = false;
  }
  out << "\n  ]\n}\n";
  if (!out) return systemError("write " + path);
  return Status();
}

}  // namespace braid::bench

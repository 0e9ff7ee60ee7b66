// braid-bench: the nccl-tests-style bandwidth sweep. Every rank runs the same sweep of sizes;
// rank 0 prints one row per size with time, algorithm bandwidth, bus bandwidth and the number
// of wrong values (inputs reduce exactly in any order, so results compare with zero tolerance).
// Exits non-zero on any wrong value or failed call.
//
//   braid-run -n 4 braid-bench allreduce -b 8 -e 256M -f 4
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "braid/communicator.h"
#include "exact_data.h"
#include "params.h"

namespace braid::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string collective = "allreduce";
  std::string minBytesText = "8", maxBytesText = "128M";
  size_t minBytes = 8, maxBytes = 128 << 20;
  double factor = 2;
  int iterations = 20;
  int warmups = 5;
  std::string dtypeName = "fp32";
  std::string opName = "sum";
  bool check = true;
};

Result<size_t> parseSize(const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || v < 0) return invalidArgument("bad size '" + text + "'");
  std::string unit(end);
  double mult = 1;
  if (unit == "K" || unit == "k" || unit == "KB" || unit == "KiB")
    mult = 1024.0;
  else if (unit == "M" || unit == "m" || unit == "MB" || unit == "MiB")
    mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "g" || unit == "GB" || unit == "GiB")
    mult = 1024.0 * 1024 * 1024;
  else if (!unit.empty() && unit != "B")
    return invalidArgument("bad size unit in '" + text + "'");
  return static_cast<size_t>(v * mult);
}

// Bus bandwidth factor (nccl-tests): the fraction of the data every link must carry.
double busFactor(int n) { return n > 1 ? 2.0 * (n - 1) / n : 1.0; }

struct Row {
  double timeUs = 0;
  double algbw = 0;
  double busbw = 0;
  uint64_t wrong = 0;
};

class AllReduceBench {
 public:
  AllReduceBench(Communicator& comm, DataType type, ReduceOp op)
      : comm_(comm), type_(type), op_(op) {}

  Result<Row> run(size_t count, bool inPlace, const Options& o) {
    const size_t es = dataTypeSize(type_);
    const size_t bytes = count * es;
    send_.resize(std::max<size_t>(bytes, 1));
    recv_.resize(std::max<size_t>(bytes, 1));
    uint8_t* out = inPlace ? send_.data() : recv_.data();
    Row row;
    // Correctness first: one call on fresh inputs, compared element by element.
    if (o.check) {
      exact::fillInput(send_.data(), count, type_, op_, comm_.rank(), comm_.size());
      if (!inPlace) std::memset(recv_.data(), 0xA5, bytes);
      BRAID_RETURN_IF_ERROR(comm_.allReduce(send_.data(), out, count, type_, op_));
      expected_.resize(std::max<size_t>(bytes, 1));
      exact::fillReduced(expected_.data(), count, type_, op_, comm_.size());
      uint64_t wrong = exact::countMismatches(out, expected_.data(), count, type_);
      BRAID_RETURN_IF_ERROR(
          comm_.allReduce(&wrong, &row.wrong, 1, DataType::kUint64, ReduceOp::kSum));
    }
    // Timing: warm-ups, then iterations back to back; the slowest rank's average counts.
    for (int i = 0; i < o.warmups; ++i) {
      BRAID_RETURN_IF_ERROR(comm_.allReduce(send_.data(), out, count, type_, op_));
    }
    BRAID_RETURN_IF_ERROR(comm_.barrier());
    auto t0 = Clock::now();
    for (int i = 0; i < o.iterations; ++i) {
      BRAID_RETURN_IF_ERROR(comm_.allReduce(send_.data(), out, count, type_, op_));
    }
    double mine =
        std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / o.iterations;
    BRAID_RETURN_IF_ERROR(
        comm_.allReduce(&mine, &row.timeUs, 1, DataType::kFloat64, ReduceOp::kMax));
    row.algbw = row.timeUs > 0 ? static_cast<double>(bytes) / row.timeUs / 1e3 : 0;
    row.busbw = row.algbw * busFactor(comm_.size());
    return row;
  }

 private:
  Communicator& comm_;
  DataType type_;
  ReduceOp op_;
  std::vector<uint8_t> send_, recv_, expected_;
};

int runBench(const Options& o) {
  auto created = Communicator::fromEnvironment();
  if (!created.isOk()) {
    std::fprintf(stderr, "braid-bench: %s\n", created.status().toString().c_str());
    return 2;
  }
  Communicator& comm = **created;
  const bool printer = comm.rank() == 0;
  auto type = parseDataType(o.dtypeName);
  auto op = parseReduceOp(o.opName);
  if (!type || !op) {
    if (printer)
      std::fprintf(stderr, "braid-bench: unknown dtype '%s' or op '%s'\n", o.dtypeName.c_str(),
                   o.opName.c_str());
    return 2;
  }
  const size_t es = dataTypeSize(*type);
  if (printer) {
    std::string transports;
    for (int p = 0; p < comm.size(); ++p) {
      std::string t = comm.transportTo(p);
      if (t != "self" && transports.find(t) == std::string::npos)
        transports += (transports.empty() ? "" : ",") + t;
    }
    std::printf("# braid-bench %s: %d ranks, transport %s, braid %s\n", o.collective.c_str(),
                comm.size(), transports.empty() ? "self" : transports.c_str(), versionString());
    std::printf("# iterations %d, warm-ups %d, check %s\n#\n", o.iterations, o.warmups,
                o.check ? "on" : "off");
    std::printf("%-12s %12s %6s %6s | %10s %8s %8s %7s | %10s %8s %8s %7s\n", "#", "", "", "",
                "out-of-place", "", "", "", "in-place", "", "", "");
    std::printf("%12s %12s %6s %6s | %10s %8s %8s %7s | %10s %8s %8s %7s\n", "# size(B)", "count",
                "type", "redop", "time(us)", "algbw", "busbw", "#wrong", "time(us)", "algbw",
                "busbw", "#wrong");
    std::fflush(stdout);
  }
  AllReduceBench bench(comm, *type, *op);
  uint64_t totalWrong = 0;
  for (size_t bytes = o.minBytes; bytes <= o.maxBytes;) {
    size_t count = bytes / es;
    Row rows[2];
    for (int inPlace = 0; inPlace < 2; ++inPlace) {
      auto row = bench.run(count, inPlace == 1, o);
      if (!row.isOk()) {
        std::fprintf(stderr, "braid-bench: rank %d: %s\n", comm.rank(),
                     row.status().toString().c_str());
        return 1;
      }
      rows[inPlace] = *row;
      totalWrong += row->wrong;
    }
    if (printer) {
      std::printf("%12zu %12zu %6s %6s | %10.2f %8.3f %8.3f %7llu | %10.2f %8.3f %8.3f %7llu\n",
                  count * es, count, toString(*type).data(), toString(*op).data(), rows[0].timeUs,
                  rows[0].algbw, rows[0].busbw, static_cast<unsigned long long>(rows[0].wrong),
                  rows[1].timeUs, rows[1].algbw, rows[1].busbw,
                  static_cast<unsigned long long>(rows[1].wrong));
      std::fflush(stdout);
    }
    size_t next = static_cast<size_t>(static_cast<double>(bytes) * o.factor);
    bytes = next > bytes ? next : bytes + 1;
  }
  if (printer && totalWrong > 0)
    std::printf("# %llu wrong values\n", static_cast<unsigned long long>(totalWrong));
  return totalWrong == 0 ? 0 : 1;
}

}  // namespace
}  // namespace braid::bench

int main(int argc, char** argv) {
  braid::bench::Options o;
  CLI::App app{
      "braid-bench: nccl-tests-style bandwidth sweep of braid collectives. Launch it on every "
      "rank, e.g. braid-run -n 4 braid-bench allreduce -b 8 -e 256M -f 4"};
  app.add_option("collective", o.collective, "collective to measure")
      ->check(CLI::IsMember({"allreduce"}));
  app.add_option("-b,--minbytes", o.minBytesText, "smallest size in bytes (suffix K, M, G)");
  app.add_option("-e,--maxbytes", o.maxBytesText, "largest size in bytes (suffix K, M, G)");
  app.add_option("-f,--stepfactor", o.factor, "multiply the size by this factor each step")
      ->check(CLI::Range(1.01, 1e6));
  app.add_option("-n,--iters", o.iterations, "timed iterations per size")
      ->check(CLI::Range(1, 1000000));
  app.add_option("-w,--warmup_iters", o.warmups, "untimed warm-up iterations per size")
      ->check(CLI::Range(0, 1000000));
  app.add_option("-d,--datatype", o.dtypeName,
                 "int8 uint8 int32 uint32 int64 uint64 fp16 bf16 fp32 fp64");
  app.add_option("-o,--op", o.opName, "sum prod min max avg");
  app.add_option("-c,--check", o.check, "check every size's result (1) or not (0)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "braid-bench: %s\n", e.what());
    return 2;
  }
  auto minB = braid::bench::parseSize(o.minBytesText);
  auto maxB = braid::bench::parseSize(o.maxBytesText);
  if (!minB.isOk() || !maxB.isOk() || *minB == 0 || *minB > *maxB) {
    std::fprintf(stderr, "braid-bench: sizes must satisfy 0 < -b <= -e\n");
    return 2;
  }
  o.minBytes = *minB;
  o.maxBytes = *maxB;
  return braid::bench::runBench(o);
}

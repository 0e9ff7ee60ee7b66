// The sweep driver: for each size, every (dtype, op), every placement and every series runs
// one after the other (A B A B ...), so slow drift of a noisy machine hits all series alike.
// Each measurement: checked calls on fresh exact inputs, warm-ups, then timed iterations on the
// device's clock (wall clock, or CUDA events). The time of an iteration is that of the slowest
// rank; the row reports the median over iterations and the back-to-back mean.
#include "sweep.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>

#include "report.h"

namespace braid::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<size_t> sizesOf(const Options& o) {
  std::vector<size_t> sizes;
  for (size_t s = o.minBytes; s <= o.maxBytes;) {
    sizes.push_back(s);
    size_t next =
        o.increment > 0 ? s + o.increment : static_cast<size_t>(static_cast<double>(s) * o.factor);
    if (next <= s) next = s + 1;
    s = next;
  }
  return sizes;
}

// Timed and warm-up iterations of a row: -n and -w, fewer where --iter-bytes caps the bytes
// a row moves (at least 3 timed and 1 warm-up).
std::pair<int, int> iterationsFor(size_t bytes, const Options& o) {
  if (o.iterBytes == 0 || bytes == 0) return {o.iterations, o.warmups};
  const size_t fit = o.iterBytes / bytes;
  const int timed = static_cast<int>(std::min<size_t>(o.iterations, std::max<size_t>(fit, 3)));
  const int warm = static_cast<int>(std::min<size_t>(o.warmups, std::max<size_t>(fit / 4, 1)));
  return {timed, warm};
}

// One measurement of one series for one placement.
Status measure(Communicator& comm, Device& device, Series& series, Buffers& buf, bool inPlace,
               const Options& o, Row* row) {
  Backend& b = *series.backend;
  const bool atStart = b.reduceScatterInPlaceAtStart();
  uint64_t wrong = 0;
  Result<Call> call = device.prepare(buf, inPlace, true, atStart);
  BRAID_RETURN_IF_ERROR(call.status());
  for (int c = 0; c < o.checkIterations; ++c) {
    if (c > 0) {
      call = device.prepare(buf, inPlace, true, atStart);
      BRAID_RETURN_IF_ERROR(call.status());
    }
    BRAID_RETURN_IF_ERROR(b.run(*call));
    Result<uint64_t> w = device.wrong(buf, inPlace, atStart);
    BRAID_RETURN_IF_ERROR(w.status());
    wrong += *w;
  }
  auto [iterations, warmups] = iterationsFor(row->bytes, o);
  row->iterations = iterations;
  for (int i = 0; i < warmups; ++i) BRAID_RETURN_IF_ERROR(b.run(*call));
  BRAID_RETURN_IF_ERROR(device.sync());
  BRAID_RETURN_IF_ERROR(b.barrier());
  std::vector<double> each;
  double total = 0, issue = 0;
  BRAID_RETURN_IF_ERROR(device.time(b, *call, iterations, &each, &total, &issue));
  // Asked once the call ran (with --check 0 and no warm-ups, the timed calls are the first).
  row->chosen = b.chosenAlgorithm(*call);
  row->predictedUs = b.predictedUs(*call);
  // The slowest rank decides: per iteration, and for the back-to-back mean.
  std::vector<double> slowest(each.size());
  BRAID_RETURN_IF_ERROR(
      comm.allReduce(each.data(), slowest.data(), each.size(), DataType::kFloat64, ReduceOp::kMax));
  // Back-to-back mean and host issue time per call, each the slowest rank's.
  double means[2] = {total / iterations, issue / iterations}, meansMax[2] = {0, 0};
  BRAID_RETURN_IF_ERROR(comm.allReduce(means, meansMax, 2, DataType::kFloat64, ReduceOp::kMax));
  row->issueUs = meansMax[1];
  BRAID_RETURN_IF_ERROR(comm.allReduce(&wrong, &row->wrong, 1, DataType::kUint64, ReduceOp::kSum));
  std::sort(slowest.begin(), slowest.end());
  size_t m = slowest.size();
  row->timeUs = m % 2 == 1 ? slowest[m / 2] : (slowest[m / 2 - 1] + slowest[m / 2]) / 2;
  row->avgUs = meansMax[0];
  row->algbw = row->timeUs > 0 ? static_cast<double>(row->bytes) / row->timeUs / 1e3 : 0;
  row->busbw = row->algbw * busFactor(row->collective, comm.size());
  return Status();
}

// Whether rank 0 will be able to write --json FILE at the end: the file is writable, or it does
// not exist and its directory is. Checked before the sweep, so a typo costs no sweep (and no
// rank waits for one that gave up at the end).
std::string jsonPathProblem(const std::string& path) {
  if (path.empty()) return "";
  if (access(path.c_str(), F_OK) == 0) {
    return access(path.c_str(), W_OK) == 0 ? "" : "--json " + path + ": the file is not writable";
  }
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (access(dir.c_str(), W_OK) == 0) return "";
  return "--json " + path + ": the directory " + dir + " does not exist or is not writable";
}

}  // namespace

int runSweep(Communicator& comm, Device& device, std::vector<Series>& series, const Options& o) {
  const bool printer = comm.rank() == 0;
  const std::vector<size_t> sizes = sizesOf(o);
  // Every rank learns rank 0's verdict on --json, so that all stop together. Rank 0 says why
  // first: once another rank exits, a launcher may stop rank 0 before it prints.
  const std::string problem = printer ? jsonPathProblem(o.jsonPath) : "";
  if (!problem.empty()) {
    std::fprintf(stderr, "braid-bench: %s\n", problem.c_str());
    std::fflush(stderr);
  }
  uint8_t jsonOk = problem.empty() ? 1 : 0;
  if (!comm.broadcast(&jsonOk, &jsonOk, 1, DataType::kUint8, 0).isOk()) return 1;
  if (!jsonOk) return 2;
  Report report(comm, series, o);
  if (printer) report.printHeader();
  std::vector<Row> all;
  bool failed = false;
  auto started = Clock::now(), lastProgress = started;
  size_t done = 0, total = sizes.size() * o.collectives.size();
  for (Collective coll : o.collectives) {
    // A series whose algorithm this collective does not have sits this collective out.
    std::vector<bool> applicable;
    for (Series& s : series) {
      auto names = s.backend->algorithms(coll);
      bool has = s.algo == "auto" || s.algo == "default" ||
                 std::find(names.begin(), names.end(), s.algo) != names.end();
      applicable.push_back(has);
      if (!has) continue;
      Status st = s.backend->setAlgorithm(coll, s.algo == "auto" ? "" : s.algo);
      if (!st.isOk()) {
        if (printer) std::fprintf(stderr, "braid-bench: %s\n", st.toString().c_str());
        return 2;
      }
    }
    if (printer) report.printColumns(coll);
    for (size_t size : sizes) {
      for (DataType t : o.dtypes) {
        for (ReduceOp op : reduces(coll) ? o.ops : std::vector<ReduceOp>{ReduceOp::kSum}) {
          Buffers buf(coll, size, t, op, rooted(coll) ? o.root : 0, comm.rank(), comm.size());
          std::vector<Row> rows;
          for (int place = o.inPlaceOnly ? 1 : 0; place < 2; ++place) {
            for (size_t si = 0; si < series.size(); ++si) {
              Series& s = series[si];
              Row row;
              row.backend = s.backend->name();
              row.algo = s.algo;
              row.transport = s.backend->transport();
              row.collective = coll;
              row.bytes = buf.tableCount() * dataTypeSize(t);
              row.count = buf.tableCount();
              row.dtype = t;
              row.op = op;
              row.root = rooted(coll) ? o.root : -1;
              row.inPlace = place == 1;
              row.supported = applicable[si] && s.backend->supports(coll, t, op) &&
                              !(row.inPlace && !s.backend->supportsInPlace(coll));
              if (row.supported) {
                // Series share a backend: select this series' algorithm for every measurement.
                Status st = s.backend->setAlgorithm(coll, s.algo == "auto" ? "" : s.algo);
                if (st.isOk()) st = measure(comm, device, s, buf, row.inPlace, o, &row);
                if (!st.isOk()) {
                  std::fprintf(stderr, "braid-bench: rank %d: %s %s: %s\n", comm.rank(),
                               s.label.c_str(), std::string(collectiveName(coll)).c_str(),
                               st.toString().c_str());
                  return 1;
                }
                failed = failed || row.wrong > 0;
              }
              rows.push_back(row);
            }
          }
          if (printer) report.printRow(rows);
          all.insert(all.end(), rows.begin(), rows.end());
        }
      }
      ++done;
      auto now = Clock::now();
      if (printer && o.progress && now - lastProgress > std::chrono::seconds(3)) {
        std::fprintf(stderr, "braid-bench: %zu/%zu sizes done, %.0f s elapsed\n", done, total,
                     std::chrono::duration<double>(now - started).count());
        lastProgress = now;
      }
    }
  }
  // --min-bw: the mean busbw of braid's rows.
  double sum = 0;
  int count = 0;
  for (const Row& r : all) {
    if (r.supported && r.backend == "braid") sum += r.busbw, ++count;
  }
  double meanBusBw = count > 0 ? sum / count : 0;
  bool tooSlow = o.minBusBw > 0 && meanBusBw < o.minBusBw;
  if (printer) {
    report.printFooter(all, meanBusBw);
    if (tooSlow)
      std::printf("# mean busbw %.3f GB/s is below --min-bw %.3f\n", meanBusBw, o.minBusBw);
    if (!o.jsonPath.empty()) {
      Status st = report.writeJson(o.jsonPath, all);
      if (!st.isOk()) {
        std::fprintf(stderr, "braid-bench: %s\n", st.toString().c_str());
        failed = true;  // still meet the others below: they wait for rank 0 there
      }
    }
  }
  // Nobody leaves before rank 0 has printed and written everything: a launcher tears the job
  // down as soon as one rank exits non-zero.
  Status st = comm.barrier();
  if (!st.isOk()) return 1;
  return failed || tooSlow ? 1 : 0;
}

}  // namespace braid::bench

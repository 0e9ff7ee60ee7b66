// braid-bench: the nccl-tests-style benchmark. Launch it on every rank:
//   braid-run -n 4 braid-bench allreduce -b 8 -e 256M -f 4
//   mpirun -np 4 braid-bench allreduce --backend braid,mpi -b 8 -e 256M -f 4
//   braid-run -n 4 braid-bench allreduce --device cuda --backend braid,nccl -b 8 -e 4G
// Every row is checked for exact results; the exit status is non-zero on any wrong value.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "algorithm_choice.h"
#include "braid/communicator.h"
#include "params.h"
#include "sweep.h"
#if BRAID_BENCH_MPI
#include <mpi.h>
#endif

namespace braid::bench {
namespace {

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

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

struct Cli {
  std::string collective = "allreduce";
  std::string minBytes = "8", maxBytes = "128M", increment = "0";
  std::string dtype = "fp32", op = "sum", algo = "auto", transport, backend = "braid";
  std::string device = "cpu", iterBytes = "0";
};

int fail(const std::string& message) {
  std::fprintf(stderr, "braid-bench: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  Cli c;
  CLI::App app{
      "braid-bench: nccl-tests-style bandwidth sweep of braid collectives on host or GPU buffers, "
      "optionally side by side with MPI (host) or NCCL (GPU) in the same launch. Start it on "
      "every rank (braid-run, mpirun, torchrun, srun). Exit status: 0 ok, 1 wrong values / "
      "failed call / below --min-bw, 2 bad usage."};
  app.add_option(
      "collective", c.collective,
      "allreduce, reducescatter, allgather, broadcast, reduce, alltoall, sendrecv, or all");
  app.add_option("-b,--minbytes", c.minBytes, "smallest size in bytes, suffix K/M/G (default 8)");
  app.add_option("-e,--maxbytes", c.maxBytes, "largest size in bytes, suffix K/M/G (default 128M)");
  app.add_option("-f,--stepfactor", o.factor, "multiply the size by this each step (default 2)")
      ->check(CLI::Range(1.001, 1e9));
  app.add_option("-i,--stepbytes", c.increment, "add this many bytes each step instead of -f");
  app.add_option("-n,--iters", o.iterations, "timed iterations per row (default 20)")
      ->check(CLI::Range(1, 100000000));
  app.add_option("-w,--warmup_iters", o.warmups, "untimed warm-up iterations per row (default 5)")
      ->check(CLI::Range(0, 100000000));
  app.add_option("--iter-bytes", c.iterBytes,
                 "at large sizes run fewer iterations: timed x size <= this (at least 3 timed, "
                 "1 warm-up); suffix K/M/G (default 0: off)");
  app.add_option("-c,--check", o.checkIterations,
                 "checked iterations per row on fresh exact inputs; 0 = no check (default 1)")
      ->check(CLI::Range(0, 1000));
  app.add_option("-d,--datatype", c.dtype,
                 "int8 uint8 int32 uint32 int64 uint64 fp16 bf16 fp32 fp64, a comma list, or all");
  app.add_option("-o,--op", c.op, "sum prod min max avg, a comma list, or all");
  app.add_option("-r,--root", o.root, "root of broadcast and reduce (default 0)");
  app.add_option(
      "--algo", c.algo,
      "braid algorithm: auto (the tuner chooses), a name (ring, oneshot, tree, "
      "halving-doubling, hierarchical, chain, binomial, pairwise, ...), a comma list, or "
      "all (every algorithm plus auto)");
  app.add_option("--transport", c.transport,
                 "force braid's transport: shm or tcp (BRAID_TRANSPORT)");
  app.add_option("--backend", c.backend,
                 "comma list of libraries to run side by side: braid, mpi (host buffers, run "
                 "under mpirun), nccl (--device cuda)");
  app.add_option("--device", c.device,
                 "where the buffers live: cpu (default) or cuda (one GPU per process: the local "
                 "rank's)");
  int registerBuffers = 0;
  app.add_option("-R,--register", registerBuffers,
                 "1: register the device buffers with every library first (braidCommRegister, "
                 "ncclCommRegister; as nccl-tests' -R 1), so that braid's large allReduce, "
                 "reduceScatter and allGather read and write peers' buffers directly; 0 (default): "
                 "do not")
      ->check(CLI::Range(0, 1));
  app.add_flag("--inplace-only", o.inPlaceOnly, "measure only in-place calls");
  app.add_option("--min-bw", o.minBusBw,
                 "exit 1 if the mean busbw (GB/s) of braid's rows is lower");
  app.add_option("--json", o.jsonPath, "also write every row, the machine and the build to FILE");
  app.add_flag("--per-call-timing", o.perCallTiming,
               "--device cuda: record a CUDA event after every timed call and report the median "
               "call (each event costs the GPU a few us per call); default: events only before "
               "the first and after the last call, time = the mean, as nccl-tests");
  bool noProgress = false;
  app.add_flag("--no-progress", noProgress, "no progress lines on stderr during long sweeps");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return fail(e.what());
  }
  o.progress = !noProgress;
  for (int i = 0; i < argc; ++i) o.command += (i ? " " : "") + std::string(argv[i]);

  // Sizes, collectives, dtypes, ops.
  auto minB = parseSize(c.minBytes), maxB = parseSize(c.maxBytes), inc = parseSize(c.increment);
  auto iterBytes = parseSize(c.iterBytes);
  if (!minB.isOk() || !maxB.isOk() || !inc.isOk() || !iterBytes.isOk())
    return fail("bad size (use e.g. 8, 64K, 256M, 1G)");
  o.iterBytes = *iterBytes;
  if (*minB == 0 || *minB > *maxB) return fail("sizes must satisfy 0 < -b <= -e");
  o.minBytes = *minB;
  o.maxBytes = *maxB;
  o.increment = *inc;
  if (c.collective == "all") {
    o.collectives = allCollectives();
  } else if (auto coll = parseCollective(c.collective)) {
    o.collectives = {*coll};
  } else {
    return fail("unknown collective '" + c.collective + "'");
  }
  for (const auto& name : c.dtype == "all" ? std::vector<std::string>{} : splitList(c.dtype)) {
    auto t = parseDataType(name);
    if (!t) return fail("unknown dtype '" + name + "'");
    o.dtypes.push_back(*t);
  }
  if (c.dtype == "all") {
    for (int t = 0; t < kNumDataTypes; ++t) o.dtypes.push_back(static_cast<DataType>(t));
  }
  for (const auto& name : c.op == "all" ? std::vector<std::string>{} : splitList(c.op)) {
    auto op = parseReduceOp(name);
    if (!op) return fail("unknown op '" + name + "'");
    o.ops.push_back(*op);
  }
  if (c.op == "all") {
    for (int op = 0; op < kNumReduceOps; ++op) o.ops.push_back(static_cast<ReduceOp>(op));
  }
  if (o.dtypes.empty() || o.ops.empty()) return fail("no dtype or op given");

  if (!c.transport.empty()) {
    if (c.transport != "shm" && c.transport != "tcp") return fail("--transport must be shm or tcp");
    setenv("BRAID_TRANSPORT", c.transport.c_str(), 1);
    reloadParams();
  }
  if (c.device != "cpu" && c.device != "cuda") return fail("--device must be cpu or cuda");
  const bool onGpu = c.device == "cuda";
  std::vector<std::string> backends = splitList(c.backend);
  bool wantMpi = false, wantNccl = false;
  for (const auto& b : backends) {
    if (b == "mpi") {
      wantMpi = true;
    } else if (b == "nccl") {
      wantNccl = true;
    } else if (b != "braid") {
      return fail("unknown backend '" + b + "' (this build has: braid" +
                  std::string(BRAID_BENCH_MPI ? ", mpi" : "") +
                  std::string(BRAID_BENCH_NCCL ? ", nccl" : "") + ")");
    }
  }
  if (wantMpi && onGpu) return fail("--backend mpi runs on host buffers: use --device cpu");
  if (wantNccl && !onGpu) return fail("--backend nccl runs on GPU buffers: add --device cuda");
  if (o.perCallTiming && !onGpu) {
    return fail(
        "--per-call-timing times GPU calls (CPU calls are always timed one by one): add "
        "--device cuda");
  }
#if BRAID_BENCH_MPI
  if (wantMpi) MPI_Init(&argc, &argv);
#else
  if (wantMpi)
    return fail("this braid-bench was built without MPI (install libopenmpi-dev and rebuild)");
#endif
#if BRAID_BENCH_NCCL
  if (wantNccl) {
    Status env = ncclEnvironment();
    if (!env.isOk()) return fail(env.message());
  }
#else
  if (wantNccl) return fail("this braid-bench was built without NCCL (needs nccl.h and libnccl)");
#endif

  // The GPU is chosen before braid starts, so that braid finds it current.
  std::unique_ptr<Device> device = makeCpuDevice();
  if (onGpu) {
    auto gpu = makeCudaDevice(o.maxBytes, o.perCallTiming);
    o.loopTiming = !o.perCallTiming;
    if (!gpu.isOk()) return fail("--device cuda: " + gpu.status().message());
    device = std::move(*gpu);
  }
  o.device = device->name();

  int status = 0;
  {
    auto comm = Communicator::fromEnvironment();
    if (!comm.isOk()) return fail(comm.status().toString());
    if (o.root < 0 || o.root >= (*comm)->size()) return fail("--root is out of range");
    std::vector<std::unique_ptr<Backend>> owned;
    std::vector<Series> series;
    for (const auto& b : backends) {
      if (b == "braid") {
        owned.push_back(makeBraidBackend(**comm));
        std::vector<std::string> algos;
        if (c.algo == "all") {
          algos.push_back("auto");
          for (Collective coll : o.collectives) {
            for (auto& a : owned.back()->algorithms(coll)) {
              if (std::find(algos.begin(), algos.end(), a) == algos.end()) algos.push_back(a);
            }
          }
        } else {
          algos = splitList(c.algo);
          for (const auto& a : algos) {
            bool known = a == "auto";
            for (Collective coll : o.collectives) {
              auto names = algorithmNames(kindOf(coll));
              known = known || std::find(names.begin(), names.end(), a) != names.end();
            }
            if (!known) return fail("no selected collective has an algorithm '" + a + "'");
          }
        }
        for (const auto& a : algos) {
          series.push_back({owned.back().get(), a, algos.size() > 1 ? "braid/" + a : "braid"});
        }
      }
#if BRAID_BENCH_MPI
      if (b == "mpi") {
        owned.push_back(makeMpiBackend());
        series.push_back({owned.back().get(), "default", "mpi"});
      }
#endif
#if BRAID_BENCH_NCCL
      if (b == "nccl") {
        auto nccl = makeNcclBackend(**comm, device->stream());
        if (!nccl.isOk()) {
          std::fprintf(stderr, "braid-bench: rank %d: %s\n", (*comm)->rank(),
                       nccl.status().toString().c_str());
          return 1;
        }
        owned.push_back(std::move(*nccl));
        series.push_back({owned.back().get(), "default", "nccl"});
      }
#endif
    }
    if (registerBuffers == 1) {
      if (!onGpu) return fail("-R 1 registers device buffers: add --device cuda");
      for (auto& b : owned) {
        Status st = b->registerBuffers(device->buffers());
        if (!st.isOk()) return fail(b->name() + ": " + st.toString());
      }
    }
    status = runSweep(**comm, *device, series, o);
  }
#if BRAID_BENCH_MPI
  if (wantMpi) MPI_Finalize();
#endif
  return status;
}

}  // namespace braid::bench

int main(int argc, char** argv) { return braid::bench::main(argc, argv); }

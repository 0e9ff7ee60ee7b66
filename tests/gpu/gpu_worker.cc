// braid-test-gpu-worker: a rank program for the GPU tests, launched by braid-run (one process
// per GPU). Modes:
//   matrix      every collective and send/recv x dtype x op x counts (0, 1, odd, one-shot and
//               two-shot sizes) x in place x element offsets, on device buffers and a stream,
//               compared exactly with src/exact_data.h; outputs are poisoned first
//   quick       a short subset of matrix (for compute-sanitizer)
//   variants    matrix for allReduce, reduceScatter, allGather and broadcast only (the
//               collectives with several GPU algorithms; the tests force each one by env)
//   graph       allReduce/allGather/reduceScatter captured in a CUDA graph, replayed on new data
//   twocomms    two communicators over the same GPUs used alternately
//   latency     host microseconds per call of small allReduces and of CUDA calls (a tool)
//   kill V K    allReduces in a loop; rank V kills itself at iteration K; the others report
//   mismatch    registration of memory without IPC is refused on every rank; registered
//               buffers used at different offsets fail every rank with a clear error
// BRAID_TEST_REGISTER=1: matrix, variants and graph register their buffers (braidCommRegister),
// so calls from BRAID_GPU_DIRECT_BYTES take the direct kernels.
// Prints "rank R ok <mode> (<checks> checks, ...)" or "rank R error: ..." / "rank R FAIL ...".
#include <cuda_runtime.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "braid/communicator.h"
#include "exact_data.h"

using namespace braid;

namespace braid::testing {
cudaError_t launchEmpty(cudaStream_t s, bool withArgs, int threads);  // launch_probe.cu
cudaError_t launchEmptyHow(cudaStream_t s, int mode);
}  // namespace braid::testing

namespace {

using K = CollectiveKind;

#define CUDA_OK(call)                                                                  \
  do {                                                                                 \
    cudaError_t e_ = (call);                                                           \
    if (e_ != cudaSuccess) {                                                           \
      std::printf("rank %d FAIL %s: %s\n", rankForLog, #call, cudaGetErrorString(e_)); \
      std::exit(4);                                                                    \
    }                                                                                  \
  } while (0)

int rankForLog = -1;

int fail(int rank, const Status& s) {
  std::printf("rank %d error: %s\n", rank, s.toString().c_str());
  std::fflush(stdout);
  return 3;
}

// Registers each buffer when BRAID_TEST_REGISTER=1; false (after printing) on failure.
bool maybeRegister(Communicator& comm, std::initializer_list<std::pair<void*, size_t>> buffers) {
  const char* env = std::getenv("BRAID_TEST_REGISTER");
  if (env == nullptr || std::string(env) != "1") return true;
  for (const auto& [p, bytes] : buffers) {
    auto h = comm.registerBuffer(p, bytes);
    if (!h.isOk()) {
      fail(comm.rank(), h.status());
      return false;
    }
  }
  return true;
}

// Device buffers reused by every check (large enough for the biggest one).
struct Buffers {
  uint8_t* send = nullptr;
  uint8_t* recv = nullptr;
  size_t bytes = 0;
  cudaStream_t stream = nullptr;
};

struct Case {
  K kind;
  DataType dtype;
  ReduceOp op;
  size_t count;
  bool inPlace;
  size_t offset;  // elements
};

std::string describe(const Case& c) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s %s %s count=%zu%s offset=%zu", toString(c.kind).data(),
                toString(c.dtype).data(), toString(c.op).data(), c.count,
                c.inPlace ? " in-place" : "", c.offset);
  return buf;
}

// Runs one case on device buffers and compares; returns the number of wrong elements (or -1
// when the call failed).
long runCase(Communicator& comm, Buffers& b, const Case& c) {
  const int n = comm.size(), r = comm.rank();
  const size_t es = dataTypeSize(c.dtype), count = c.count;
  const int root = n - 1, right = (r + 1) % n, left = (r + n - 1) % n;
  const bool nIn = c.kind == K::kReduceScatter || c.kind == K::kAllToAll;
  const bool nOut = c.kind == K::kAllGather || c.kind == K::kAllToAll;
  const size_t inCount = count * (nIn ? n : 1), outCount = count * (nOut ? n : 1);
  const ReduceOp dataOp =
      c.kind == K::kAllReduce || c.kind == K::kReduceScatter || c.kind == K::kReduce
          ? c.op
          : ReduceOp::kSum;
  // Host input and expected output.
  std::vector<uint8_t> in(inCount * es + 16), want(outCount * es + 16), got(outCount * es + 16);
  switch (c.kind) {
    case K::kAllToAll:
      for (int d = 0; d < n; ++d) {
        exact::fillInput(in.data() + d * count * es, count, c.dtype, dataOp, r, n, d * count);
        exact::fillInput(want.data() + d * count * es, count, c.dtype, dataOp, d, n, r * count);
      }
      break;
    case K::kAllGather:
      exact::fillInput(in.data(), count, c.dtype, dataOp, r, n);
      for (int w = 0; w < n; ++w) {
        exact::fillInput(want.data() + w * count * es, count, c.dtype, dataOp, w, n);
      }
      break;
    case K::kReduceScatter:
      exact::fillInput(in.data(), inCount, c.dtype, dataOp, r, n);
      exact::fillReduced(want.data(), count, c.dtype, dataOp, n, r * count);
      break;
    case K::kBroadcast:
      exact::fillInput(in.data(), count, c.dtype, dataOp, r, n);
      exact::fillInput(want.data(), count, c.dtype, dataOp, root, n);
      break;
    case K::kSend:  // a ring exchange in one group: send to the right, receive from the left
      exact::fillInput(in.data(), count, c.dtype, dataOp, r, n);
      exact::fillInput(want.data(), count, c.dtype, dataOp, left, n);
      break;
    default:  // allReduce, reduce
      exact::fillInput(in.data(), count, c.dtype, dataOp, r, n);
      exact::fillReduced(want.data(), count, c.dtype, dataOp, n);
  }
  // Device placement, honouring in-place conventions and the element offset.
  uint8_t* recv = b.recv + c.offset * es;
  uint8_t* send = b.send + c.offset * es;
  if (c.inPlace) {
    if (c.kind == K::kReduceScatter) {
      recv = send + r * count * es;
    } else if (c.kind == K::kAllGather) {
      send = recv + r * count * es;
    } else {
      send = recv;
    }
  }
  // Everything on the operation's stream (a non-blocking stream does not wait for the legacy
  // default stream's memsets and copies).
  CUDA_OK(cudaMemsetAsync(b.recv, 0xA5, b.bytes, b.stream));  // poison: all must be written
  if (c.inPlace && c.kind == K::kReduceScatter) {
    CUDA_OK(cudaMemsetAsync(b.send, 0xA5, b.bytes, b.stream));
  }
  CUDA_OK(cudaMemcpyAsync(send, in.data(), inCount * es, cudaMemcpyHostToDevice, b.stream));
  Status s;
  switch (c.kind) {
    case K::kAllReduce:
      s = comm.allReduce(send, recv, count, c.dtype, c.op, b.stream);
      break;
    case K::kReduceScatter:
      s = comm.reduceScatter(send, recv, count, c.dtype, c.op, b.stream);
      break;
    case K::kAllGather:
      s = comm.allGather(send, recv, count, c.dtype, b.stream);
      break;
    case K::kBroadcast:
      s = comm.broadcast(send, recv, count, c.dtype, root, b.stream);
      break;
    case K::kReduce:
      s = comm.reduce(send, recv, count, c.dtype, c.op, root, b.stream);
      break;
    case K::kAllToAll:
      s = comm.allToAll(send, recv, count, c.dtype, b.stream);
      break;
    case K::kSend: {
      (void)groupStart();
      s = comm.send(send, count, c.dtype, right, b.stream);
      Status s2 = comm.recv(recv, count, c.dtype, left, b.stream);
      Status g = groupEnd();
      if (s.isOk()) s = !s2.isOk() ? s2 : g;
      break;
    }
    default:
      break;
  }
  if (!s.isOk()) {
    std::printf("rank %d FAIL %s: %s\n", r, describe(c).c_str(), s.toString().c_str());
    return -1;
  }
  CUDA_OK(cudaStreamSynchronize(b.stream));
  Status async = comm.asyncError();
  if (!async.isOk()) {
    std::printf("rank %d FAIL %s: %s\n", r, describe(c).c_str(), async.toString().c_str());
    return -1;
  }
  if (c.kind == K::kReduce && r != root) return 0;
  CUDA_OK(cudaMemcpy(got.data(), recv, outCount * es, cudaMemcpyDeviceToHost));
  return static_cast<long>(exact::countMismatches(got.data(), want.data(), outCount, c.dtype));
}

int matrix(Communicator& comm, const std::string& mode) {
  const bool quick = mode == "quick";
  const int r = comm.rank(), n = comm.size();
  Buffers b;
  const size_t big = (size_t{1} << 20) + 5;
  b.bytes = (big + 64) * 8 * static_cast<size_t>(n) + 8192;
  CUDA_OK(cudaMalloc(&b.send, b.bytes));
  CUDA_OK(cudaMalloc(&b.recv, b.bytes));
  CUDA_OK(cudaStreamCreateWithFlags(&b.stream, cudaStreamNonBlocking));
  if (!maybeRegister(comm, {{b.send, b.bytes}, {b.recv, b.bytes}})) return 3;
  const K kinds[] = {K::kAllReduce, K::kReduceScatter, K::kAllGather, K::kBroadcast,
                     K::kReduce,    K::kAllToAll,      K::kSend};
  long checks = 0, failures = 0;
  for (K kind : kinds) {
    if (kind == K::kSend && n == 1) continue;  // no peer to send to
    if (mode == "variants" && kind != K::kAllReduce && kind != K::kReduceScatter &&
        kind != K::kAllGather && kind != K::kBroadcast) {
      continue;
    }
    const bool reducing = kind == K::kAllReduce || kind == K::kReduceScatter || kind == K::kReduce;
    for (int t = 0; t < kNumDataTypes; ++t) {
      const auto dtype = static_cast<DataType>(t);
      if (quick && dtype != DataType::kFloat32 && dtype != DataType::kBfloat16) continue;
      for (int o = 0; o < (reducing ? kNumReduceOps : 1); ++o) {
        const auto op = static_cast<ReduceOp>(o);
        if (quick && op != ReduceOp::kSum) continue;
        // One-shot and two-shot sizes; the large count for a sample of dtypes and ops.
        std::vector<size_t> counts = {0, 1, 7, 1023, 65539};
        const bool sampled = (dtype == DataType::kFloat32 || dtype == DataType::kBfloat16 ||
                              dtype == DataType::kInt8) &&
                             (op == ReduceOp::kSum || op == ReduceOp::kMax);
        if (sampled && !quick) counts.push_back(big);
        if (quick) counts = {0, 7, 65539};
        for (size_t count : counts) {
          for (bool inPlace : {false, true}) {
            if (inPlace && kind == K::kSend) continue;  // no in-place form
            for (size_t offset : {size_t{0}, size_t{1}}) {
              if (offset == 1 && count != 7 && count != 65539) continue;
              Case c{kind, dtype, op, count, inPlace, offset};
              long wrong = runCase(comm, b, c);
              ++checks;
              if (wrong != 0) {
                ++failures;
                if (wrong > 0) {
                  std::printf("rank %d FAIL %s: %ld wrong\n", r, describe(c).c_str(), wrong);
                }
                if (wrong < 0 || failures > 20) return 5;
              }
            }
          }
        }
      }
    }
  }
  std::fflush(stdout);
  if (failures > 0) return 5;
  // The last kernel's name, or "staged through host memory" where peers are not mapped: the log
  // shows which path the checks went through.
  std::printf("rank %d ok %s (%ld checks, %d ranks, last GPU algorithm: %s)\n", r, mode.c_str(),
              checks, n, comm.lastDeviceAlgorithm().c_str());
  return 0;
}

// allReduce, allGather and reduceScatter captured once, replayed on fresh inputs.
int graph(Communicator& comm) {
  const int r = comm.rank(), n = comm.size();
  const size_t count = 300007;  // fp32: two-shot on 4 GPUs, LL128 on 2
  float *in = nullptr, *out = nullptr, *gathered = nullptr, *scattered = nullptr;
  CUDA_OK(cudaMalloc(&in, count * n * sizeof(float)));
  CUDA_OK(cudaMalloc(&out, count * sizeof(float)));
  CUDA_OK(cudaMalloc(&gathered, count * n * sizeof(float)));
  CUDA_OK(cudaMalloc(&scattered, count * sizeof(float)));
  if (!maybeRegister(comm, {{in, count * n * sizeof(float)},
                            {out, count * sizeof(float)},
                            {gathered, count * n * sizeof(float)},
                            {scattered, count * sizeof(float)}})) {
    return 3;
  }
  cudaStream_t s;
  CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  // One uncaptured call sets the communicator's GPU side up.
  Status st = comm.allReduce(in, out, 1, DataType::kFloat32, ReduceOp::kSum, s);
  if (!st.isOk()) return fail(r, st);
  CUDA_OK(cudaStreamSynchronize(s));
  // The GPU path names what it launched (braid-bench prints it): one element goes low-latency,
  // or direct where the buffers are registered (that test sets BRAID_GPU_DIRECT_BYTES=0).
  const char* registered = std::getenv("BRAID_TEST_REGISTER");
  const std::string expected = registered != nullptr && std::string(registered) == "1"
                                   ? "direct allReduce"
                                   : "low-latency one-shot allReduce";
  const std::string ran = comm.lastDeviceAlgorithm();
  if (n > 1 && ran != expected) {
    std::printf("rank %d FAIL lastDeviceAlgorithm() after a 1-element allReduce: \"%s\"\n", r,
                ran.c_str());
    return 5;
  }
  cudaGraph_t g;
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  st = comm.allReduce(in, out, count, DataType::kFloat32, ReduceOp::kSum, s);
  if (st.isOk()) st = comm.allGather(in, gathered, count, DataType::kFloat32, s);
  if (st.isOk())
    st = comm.reduceScatter(in, scattered, count, DataType::kFloat32, ReduceOp::kMax, s);
  CUDA_OK(cudaStreamEndCapture(s, &g));
  if (!st.isOk()) return fail(r, st);
  cudaGraphExec_t exec;
  CUDA_OK(cudaGraphInstantiate(&exec, g, 0));
  std::vector<float> host(count * n), want(count * n), got(count * n);
  for (int replay = 0; replay < 5; ++replay) {
    // Different data each replay: the inputs are shifted by the replay number.
    const ReduceOp op = ReduceOp::kSum;
    exact::fillInput(host.data(), count * n, DataType::kFloat32, op, r, n, replay * 11);
    CUDA_OK(cudaMemcpyAsync(in, host.data(), count * n * sizeof(float), cudaMemcpyHostToDevice, s));
    CUDA_OK(cudaGraphLaunch(exec, s));
    CUDA_OK(cudaStreamSynchronize(s));
    if (!comm.asyncError().isOk()) return fail(r, comm.asyncError());
    exact::fillReduced(want.data(), count, DataType::kFloat32, op, n, replay * 11);
    CUDA_OK(cudaMemcpy(got.data(), out, count * sizeof(float), cudaMemcpyDeviceToHost));
    size_t wrong = exact::countMismatches(got.data(), want.data(), count, DataType::kFloat32);
    for (int w = 0; w < n; ++w) {
      exact::fillInput(want.data() + w * count, count, DataType::kFloat32, op, w, n, replay * 11);
    }
    CUDA_OK(cudaMemcpy(got.data(), gathered, count * n * sizeof(float), cudaMemcpyDeviceToHost));
    wrong += exact::countMismatches(got.data(), want.data(), count * n, DataType::kFloat32);
    // reduceScatter with max: the expected max over ranks of block r.
    std::vector<float> mx(count);
    for (size_t i = 0; i < count; ++i) {
      float m = 0;
      for (int w = 0; w < n; ++w) {
        float v = static_cast<float>(
            exact::input(DataType::kFloat32, op, w, n, replay * 11 + r * count + i));
        m = w == 0 || v > m ? v : m;
      }
      mx[i] = m;
    }
    CUDA_OK(cudaMemcpy(got.data(), scattered, count * sizeof(float), cudaMemcpyDeviceToHost));
    wrong += exact::countMismatches(got.data(), mx.data(), count, DataType::kFloat32);
    if (wrong != 0) {
      std::printf("rank %d FAIL graph replay %d: %zu wrong\n", r, replay, wrong);
      return 5;
    }
  }
  std::printf("rank %d ok graph (5 replays)\n", r);
  return 0;
}

// Two communicators over the same GPUs, used alternately on one stream and on two streams.
int twoComms(Communicator& a) {
  const int r = a.rank(), n = a.size();
  auto split = a.split(0, r);
  if (!split.isOk()) return fail(r, split.status());
  Communicator& b = **split;
  Buffers buf;
  buf.bytes = (size_t{1} << 22) + 4096;
  CUDA_OK(cudaMalloc(&buf.send, buf.bytes));
  CUDA_OK(cudaMalloc(&buf.recv, buf.bytes));
  cudaStream_t s2;
  CUDA_OK(cudaStreamCreateWithFlags(&buf.stream, cudaStreamNonBlocking));
  CUDA_OK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  for (int i = 0; i < 12; ++i) {
    Communicator& c = i % 2 ? b : a;
    if (i >= 6) std::swap(buf.stream, s2);  // alternate streams too
    const size_t count = i % 3 == 0 ? 1000003 : 5000 + i;
    Case k{i % 4 == 3 ? K::kAllGather : K::kAllReduce,
           DataType::kFloat32,
           ReduceOp::kSum,
           count,
           false,
           0};
    if (k.kind == K::kAllGather) k.count = count / n;
    long wrong = runCase(c, buf, k);
    if (wrong != 0) {
      std::printf("rank %d FAIL twocomms step %d (%s): %ld\n", r, i, describe(k).c_str(), wrong);
      return 5;
    }
  }
  std::printf("rank %d ok twocomms\n", r);
  return 0;
}

// Host cost per call of an 8-byte allReduce and of the CUDA calls it is made of (rank 0
// prints; a tool for finding host overhead, not a test).
int latency(Communicator& comm) {
  const int r = comm.rank();
  float *in = nullptr, *out = nullptr;
  CUDA_OK(cudaMalloc(&in, 1 << 20));
  CUDA_OK(cudaMalloc(&out, 1 << 20));
  cudaStream_t s;
  CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaEvent_t ev;
  CUDA_OK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
  // 100 bursts of 20 calls, each burst followed by a synchronize: short enough that no launch
  // waits for room in the stream's queue.
  const int bursts = 100, burst = 20, iters = bursts * burst;
  auto perCall = [&](const char* what, auto&& call) {
    CUDA_OK(cudaStreamSynchronize(s));
    Status st = comm.barrier();
    if (!st.isOk()) return fail(r, st);
    double issued = 0, done = 0;
    for (int b = 0; b < bursts; ++b) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < burst; ++i) call();
      const auto t1 = std::chrono::steady_clock::now();
      CUDA_OK(cudaStreamSynchronize(s));
      const auto t2 = std::chrono::steady_clock::now();
      issued += std::chrono::duration<double, std::micro>(t1 - t0).count();
      done += std::chrono::duration<double, std::micro>(t2 - t0).count();
    }
    if (r == 0) {
      std::printf("latency %-34s issue %6.2f us/call, done %6.2f us/call\n", what, issued / iters,
                  done / iters);
    }
    return 0;
  };
  cudaPointerAttributes a{};
  int device = 0;
  perCall("cudaPointerGetAttributes", [&] { cudaPointerGetAttributes(&a, in); });
  perCall("cudaGetDevice", [&] { cudaGetDevice(&device); });
  perCall("cudaEventRecord", [&] { cudaEventRecord(ev, s); });
  perCall("cudaMemsetAsync 8 B", [&] { cudaMemsetAsync(out, 0, 8, s); });
  perCall("empty kernel, 32 threads", [&] { testing::launchEmpty(s, false, 32); });
  perCall("empty kernel, 512 threads, 300 B args", [&] { testing::launchEmpty(s, true, 512); });
  perCall("empty kernel, cudaLaunchKernel", [&] { testing::launchEmptyHow(s, 1); });
  perCall("empty kernel, driver cuLaunchKernel", [&] { testing::launchEmptyHow(s, 2); });
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  testing::launchEmpty(s, false, 32);
  CUDA_OK(cudaStreamEndCapture(s, &graph));
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  perCall("empty kernel, 1-node graph launch", [&] { cudaGraphLaunch(exec, s); });
  // The first GPU call of a communicator maps the peers' memory: not part of the per-call cost.
  Status warm = comm.allReduce(in, out, 2, DataType::kFloat32, ReduceOp::kSum, s);
  if (!warm.isOk()) return fail(r, warm);
  for (size_t count : {size_t{2}, size_t{16384}}) {
    Status st;
    std::string name = "allReduce fp32 x " + std::to_string(count);
    perCall(name.c_str(), [&] {
      if (st.isOk()) st = comm.allReduce(in, out, count, DataType::kFloat32, ReduceOp::kSum, s);
    });
    if (!st.isOk()) return fail(r, st);
  }
  std::printf("rank %d ok latency\n", r);
  return 0;
}

int mismatch(Communicator& comm) {
  const int r = comm.rank();
  cudaStream_t s;
  CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  // A stream-ordered pool's memory has no legacy IPC handle: refused on every rank, naming one.
  void* pooled = nullptr;
  CUDA_OK(cudaMallocAsync(&pooled, 1 << 20, s));
  CUDA_OK(cudaStreamSynchronize(s));
  auto refused = comm.registerBuffer(pooled, 1 << 20);
  if (refused.isOk() || refused.status().message().find("cannot register") == std::string::npos) {
    std::printf("rank %d FAIL registering pool memory: %s\n", r,
                refused.isOk() ? "accepted" : refused.status().toString().c_str());
    return 5;
  }
  // Registered buffers at different offsets: rank 0 at 0, the others 64 elements in.
  const size_t count = size_t{1} << 20;
  float* buf = nullptr;
  CUDA_OK(cudaMalloc(&buf, (count + 64) * sizeof(float)));
  CUDA_OK(cudaMemset(buf, 0, (count + 64) * sizeof(float)));
  auto h = comm.registerBuffer(buf, (count + 64) * sizeof(float));
  if (!h.isOk()) return fail(r, h.status());
  float* at = buf + (r == 0 ? 0 : 64);
  Status st = comm.allReduce(at, at, count, DataType::kFloat32, ReduceOp::kSum, s);
  if (!st.isOk()) return fail(r, st);
  CUDA_OK(cudaStreamSynchronize(s));
  Status async = comm.asyncError();
  if (async.isOk() || async.message().find("other arguments") == std::string::npos) {
    std::printf("rank %d FAIL mismatched offsets: %s\n", r,
                async.isOk() ? "not detected" : async.toString().c_str());
    return 5;
  }
  std::printf("rank %d ok mismatch (%s)\n", r, async.message().c_str());
  return 0;
}

int killTest(Communicator& comm, int victim, int atIteration) {
  signal(SIGTERM, SIG_IGN);  // stay alive to report what braid says
  const int r = comm.rank();
  const size_t count = size_t{1} << 22;
  float* buf = nullptr;
  CUDA_OK(cudaMalloc(&buf, count * sizeof(float)));
  cudaStream_t s;
  CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CUDA_OK(cudaMemsetAsync(buf, 0, count * sizeof(float), s));
  for (int it = 0; it < 1000000; ++it) {
    if (r == victim && it == atIteration) raise(SIGKILL);
    Status st = comm.allReduce(buf, buf, count, DataType::kFloat32, ReduceOp::kMax, s);
    if (!st.isOk()) return fail(r, st);
    CUDA_OK(cudaStreamSynchronize(s));
    st = comm.asyncError();
    if (!st.isOk()) return fail(r, st);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "matrix";
  auto comm = Communicator::fromEnvironment();
  if (!comm.isOk()) {
    std::printf("init error: %s\n", comm.status().toString().c_str());
    return 2;
  }
  rankForLog = (*comm)->rank();
  if (mode == "matrix" || mode == "quick" || mode == "variants") return matrix(**comm, mode);
  if (mode == "graph") return graph(**comm);
  if (mode == "twocomms") return twoComms(**comm);
  if (mode == "latency") return latency(**comm);
  if (mode == "mismatch") return mismatch(**comm);
  if (mode == "kill" && argc == 4) return killTest(**comm, std::atoi(argv[2]), std::atoi(argv[3]));
  std::fprintf(stderr,
               "usage: braid-test-gpu-worker "
               "matrix|quick|variants|graph|twocomms|latency|mismatch|kill V K\n");
  return 2;
}

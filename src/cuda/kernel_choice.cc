// Which GPU kernel runs a collective, with what arguments (kernel_choice.h). The thresholds come
// from measurements on H200s, quoted where each is defined.
#include "cuda/kernel_choice.h"

#include <fmt/format.h>

#include <algorithm>

#include "cuda/kernels.h"
#include "util/hash.h"

namespace braid::gpu {
namespace {

using K = CollectiveKind;

// Blocks for a transfer of `bytes` per destination: one per 8 KiB (small messages are
// latency-bound: more blocks push in parallel), at most the configured lanes.
int blocksFor(size_t bytes, int lanes) {
  const size_t want = (bytes + 8191) / 8192;
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(want, lanes)));
}

// Arguments of a low-latency kernel for d's buffers and blocks of `bytes`, for `work` threads
// (each carries one piece per round) in blocks of at most maxThreads: enough blocks for one
// piece per thread, at most the configured lanes; one block of whole warps for tiny messages.
cuda::LlArgs llArgsFor(const cuda::PeerMemory& m, const OpDesc& d, size_t bytes, size_t work,
                       int maxThreads) {
  cuda::LlArgs a;
  a.input = d.send;
  a.output = d.recv;
  a.bytes = bytes;
  const size_t want = (work + maxThreads - 1) / maxThreads;
  a.blocks = static_cast<int>(std::max<size_t>(1, std::min<size_t>(want, m.lanes)));
  a.threads =
      static_cast<int>(std::min<size_t>(maxThreads, std::max<size_t>(32, (work + 31) / 32 * 32)));
  return a;
}
// LL: a thread per 8-byte unit.
cuda::LlArgs llArgs(const cuda::PeerMemory& m, const OpDesc& d, size_t bytes) {
  return llArgsFor(m, d, bytes, (bytes + 7) / 8, cuda::kThreads);
}
// LL128: eight threads per 128-byte line.
cuda::LlArgs ll128Args(const cuda::PeerMemory& m, const OpDesc& d, size_t bytes) {
  return llArgsFor(m, d, bytes, cuda::ll128Lines(bytes) * 8, cuda::kLl128Threads);
}

// On 2 GPUs the LL protocol carries blocks up to kTwoGpuLlBytes, LL128 from there up to
// kTwoGpuLl128Bytes (the default of BRAID_GPU_LL128_BYTES), the staged pushes above. 2x H200,
// session 10 (LL128 in 1024-thread blocks, one load per line; staged hand-overs without a
// fence): allReduce 4 MiB LL128 26.0 against staged 26.1 us, so the limit stays. Session 9
// (2026-11-22, scripts/gpu-sweep), 64 blocks, LL / LL128 / staged in us:
// allReduce 8 KiB 7.6 / 7.6, 64 KiB 8.6 / 7.8, 1 MiB 15.3 / 13.2 / 17.3, 2 MiB - / 18.4 / 21.0,
// 4 MiB - / 30.0 / 27.5; reduceScatter of 512 KiB blocks 14.0 / 11.1, 2 MiB 18.7 / 20.4,
// 4 MiB 30.9 / 27.2; allGather of 2 MiB blocks 16.5 / 19.7, 4 MiB 26.7 / 26.2. Without LL128
// the LL limit is 1 MiB (session 8: the staged pushes are faster above). Not measured on more
// GPUs, where LL128 is off unless BRAID_GPU_LL128_BYTES asks for it.
constexpr size_t kTwoGpuLlBytes = size_t{8} << 10;
constexpr size_t kTwoGpuLlBytesWithoutLl128 = size_t{1} << 20;
constexpr size_t kTwoGpuLl128Bytes = size_t{2} << 20;

// The largest block allReduce, reduceScatter and allGather send low-latency: what one writer's
// LL slot holds (BRAID_GPU_LL_BYTES), on 2 GPUs at most the limits above. (Broadcast has its own
// limit, BRAID_GPU_LL_BROADCAST_BYTES, within the same slot.) Above it, LL128 up to
// m.ll128Bytes; LL gives way to LL128 at 8 KiB only where LL128 covers LL's 1 MiB.
size_t llLimit(const cuda::PeerMemory& m) {
  if (m.size != 2) return m.llBytes;
  const bool ll128Above = m.ll128Bytes >= kTwoGpuLlBytesWithoutLl128;
  return std::min(m.llBytes, ll128Above ? kTwoGpuLlBytes : kTwoGpuLlBytesWithoutLl128);
}

// The protocol for a block of `bytes` of one-shot allReduce, reduceScatter or allGather: LL up
// to llLimit, LL128 above it up to m.ll128Bytes, the staged pushes above that.
enum class Protocol { kLl, kLl128, kStaged };
Protocol protocolFor(const cuda::PeerMemory& m, size_t bytes) {
  if (bytes <= llLimit(m)) return Protocol::kLl;
  return bytes <= m.ll128Bytes ? Protocol::kLl128 : Protocol::kStaged;
}

enum class GpuAllReduce { kLlOneShot, kLl128OneShot, kLlTwoShot, kOneShot, kTwoShot };
const char* toString(GpuAllReduce a) {
  switch (a) {
    case GpuAllReduce::kLlOneShot:
      return "low-latency one-shot allReduce";
    case GpuAllReduce::kLl128OneShot:
      return "LL128 one-shot allReduce";
    case GpuAllReduce::kLlTwoShot:
      return "low-latency two-shot allReduce";
    case GpuAllReduce::kOneShot:
      return "one-shot allReduce";
    case GpuAllReduce::kTwoShot:
      return "two-shot allReduce";
  }
  return "allReduce";
}

// On 2 GPUs the staged one-shot up to this size (two-shot moves as many bytes, in two hops). On
// 2x H200 (session 10, with the wider reduction and no fence before flags): 8 MiB one-shot 39.4
// against two-shot 42.7 us, 16 MiB 68.5 against 66.5, NCCL 51 and 81. (Session 8, before
// those changes, had the two-shot as fast or faster at 8 MiB.)
constexpr size_t kTwoGpuOneShotBytes = size_t{8} << 20;

// By BRAID_GPU_ALGO, else by size: one-shot up to BRAID_GPU_ONESHOT_BYTES (on 2 GPUs wherever
// the LL or LL128 one-shot fits, and staged up to kTwoGpuOneShotBytes), then two-shot; each
// low-latency up to llLimit, LL128 above it up to m.ll128Bytes. Measured on 2 and 4 H200s
// (2026-11-22, scripts/gpu-sweep): LL one-shot is fastest to 128 KiB on 4 GPUs, LL two-shot from
// there to 2 MiB, the staged kernels above; on 2 GPUs see kTwoGpuLlBytes.
Result<GpuAllReduce> allReduceAlgorithm(const cuda::PeerMemory& m, const Params& p, size_t bytes) {
  const std::string& forced = p.gpuAlgo;
  const Protocol protocol = protocolFor(m, bytes);
  const bool llTwo =
      protocol == Protocol::kLl && 2 * cuda::llTwoShotShard(m, bytes) * 8 <= m.llBytes;
  if (forced == "oneshot-staged") return GpuAllReduce::kOneShot;
  if (forced == "twoshot-staged") return GpuAllReduce::kTwoShot;
  if (forced == "oneshot-ll128") {
    return bytes <= m.ll128Bytes ? GpuAllReduce::kLl128OneShot : GpuAllReduce::kOneShot;
  }
  // The staged one-shot wins on 2 GPUs only in one round of the staging (a smaller
  // BRAID_GPU_BUFFER_BYTES cuts it into rounds: 8 MiB took 59 us in 16 MiB of staging against 41).
  const bool oneRound = bytes <= m.partBytes * static_cast<size_t>(blocksFor(bytes, m.lanes));
  bool oneShot = bytes <= static_cast<size_t>(p.gpuOneShotBytes) ||
                 (m.size == 2 &&
                  (protocol != Protocol::kStaged || (bytes <= kTwoGpuOneShotBytes && oneRound)));
  if (forced == "oneshot") {
    oneShot = true;
  } else if (forced == "twoshot") {
    oneShot = false;
  } else if (!forced.empty()) {
    return invalidArgument(fmt::format(
        "BRAID_GPU_ALGO={}: expected oneshot, twoshot, oneshot-ll128, oneshot-staged or "
        "twoshot-staged",
        forced));
  }
  if (oneShot) {
    switch (protocol) {
      case Protocol::kLl:
        return GpuAllReduce::kLlOneShot;
      case Protocol::kLl128:
        return GpuAllReduce::kLl128OneShot;
      case Protocol::kStaged:
        return GpuAllReduce::kOneShot;
    }
  }
  return llTwo ? GpuAllReduce::kLlTwoShot : GpuAllReduce::kTwoShot;
}

// Broadcasts of at least this many bytes on 3 or more GPUs scatter and allgather (below), when
// BRAID_GPU_CHAIN_BYTES does not send them down the chain first. On 4x H200 (2026-11-22)
// scatter+allGather reached 1.5x the root's push at 16 MiB and 1.7x at >= 256 MiB (196 vs 116
// GB/s busbw); the chain (chain_broadcast.cu) then beat both from 256 KiB: 0.78x NCCL's time at
// 4 MiB, 1.18x at 256 MiB where scatter+allGather took 1.8x.
constexpr size_t kScatterBroadcastBytes = size_t{8} << 20;

// Large broadcast: the root scatters one 16-byte-aligned block to each rank, then every rank
// pushes its block to all the others (an allGather), so the root's links carry the buffer about
// once instead of once per peer. The tail that does not divide into equal blocks goes by the
// root's direct push. Three launches on one stream; every rank takes the same branch.
cudaError_t scatterAllGatherBroadcast(const cuda::PeerMemory& m, const void* send, void* recv,
                                      size_t bytes, int root, cudaStream_t s) {
  const int n = m.size;
  const size_t block = bytes / n / 16 * 16;
  const size_t body = block * n;
  auto* out = static_cast<uint8_t*>(recv);
  const auto* in = static_cast<const uint8_t*>(send);
  const uint32_t all = (1u << n) - 1, others = all & ~(1u << root);
  const bool isRoot = m.rank == root;

  cuda::PushCopyArgs scatter;
  scatter.input = send;
  scatter.inputStride = block;
  scatter.output = out + m.rank * block;
  scatter.bytes = block;
  scatter.senders = 1u << root;
  scatter.receivers = others;
  scatter.ownCopy = isRoot;
  scatter.blocks = blocksFor(block, m.lanes);
  cudaError_t e = cuda::pushCopy(m, scatter, s);
  if (e != cudaSuccess) return e;

  cuda::PushCopyArgs gather;
  gather.input = out + m.rank * block;
  gather.output = out;
  gather.outputStride = block;
  gather.bytes = block;
  gather.senders = gather.receivers = all;
  gather.blocks = blocksFor(block, m.lanes);
  e = cuda::pushCopy(m, gather, s);
  if (e != cudaSuccess || body == bytes) return e;

  cuda::PushCopyArgs tail;
  tail.input = isRoot ? in + body : nullptr;
  tail.output = out + body;
  tail.bytes = bytes - body;
  tail.senders = 1u << root;
  tail.receivers = others;
  tail.ownCopy = isRoot;
  tail.blocks = blocksFor(bytes - body, m.lanes);
  return cuda::pushCopy(m, tail, s);
}

cudaError_t allReduce(const cuda::PeerMemory& m, const OpDesc& d, size_t bytes, GpuAllReduce algo,
                      cudaStream_t s) {
  switch (algo) {
    case GpuAllReduce::kLlOneShot:
      return cuda::llReduce(m, llArgs(m, d, bytes), d.dtype, d.op, s);
    case GpuAllReduce::kLl128OneShot:
      return cuda::ll128Reduce(m, ll128Args(m, d, bytes), d.dtype, d.op, s);
    case GpuAllReduce::kLlTwoShot:
      return cuda::llTwoShotAllReduce(m, llArgs(m, d, bytes), d.dtype, d.op, s);
    case GpuAllReduce::kOneShot: {
      cuda::PushReduceArgs a;
      a.input = d.send;
      a.output = d.recv;
      a.count = d.count;
      a.receivers = (1u << m.size) - 1;
      a.blocks = blocksFor(bytes, m.lanes);
      return cuda::pushReduce(m, a, d.dtype, d.op, s);
    }
    case GpuAllReduce::kTwoShot: {
      cuda::TwoShotArgs a;
      a.input = d.send;
      a.output = d.recv;
      a.count = d.count;
      a.blocks = blocksFor(bytes / m.size, m.lanes);
      return cuda::twoShotAllReduce(m, a, d.dtype, d.op, s);
    }
  }
  return cudaErrorInvalidValue;
}

// reduceScatter (low-latency where the block fits) and reduce: blocks pushed to their receivers.
cudaError_t reduceToReceivers(const cuda::PeerMemory& m, const OpDesc& d, size_t bytes,
                              cudaStream_t s, const char** what) {
  const bool scatter = d.kind == K::kReduceScatter;
  const Protocol protocol = scatter ? protocolFor(m, bytes) : Protocol::kStaged;
  if (protocol != Protocol::kStaged) {
    const bool ll = protocol == Protocol::kLl;
    *what = ll ? "low-latency reduceScatter" : "LL128 reduceScatter";
    cuda::LlArgs a = ll ? llArgs(m, d, bytes) : ll128Args(m, d, bytes);
    a.inputStride = bytes;
    return ll ? cuda::llReduce(m, a, d.dtype, d.op, s) : cuda::ll128Reduce(m, a, d.dtype, d.op, s);
  }
  *what = scatter ? "reduceScatter" : "reduce";
  cuda::PushReduceArgs a;
  a.input = d.send;
  a.inputStride = scatter ? bytes : 0;
  a.output = d.recv;
  a.count = d.count;
  a.receivers = scatter ? (1u << m.size) - 1 : 1u << d.root;
  a.blocks = blocksFor(bytes, m.lanes);
  return cuda::pushReduce(m, a, d.dtype, d.op, s);
}

// allGather (low-latency where the block fits) and allToAll: every rank's block(s) to every
// rank; rank s's block lands at recv + s * bytes.
cudaError_t copyToEveryone(const cuda::PeerMemory& m, const OpDesc& d, size_t bytes, cudaStream_t s,
                           const char** what) {
  const bool gather = d.kind == K::kAllGather;
  const Protocol protocol = gather ? protocolFor(m, bytes) : Protocol::kStaged;
  if (protocol != Protocol::kStaged) {
    const bool ll = protocol == Protocol::kLl;
    *what = ll ? "low-latency allGather" : "LL128 allGather";
    cuda::LlArgs a = ll ? llArgs(m, d, bytes) : ll128Args(m, d, bytes);
    a.outputStride = bytes;
    return ll ? cuda::llAllGather(m, a, s) : cuda::ll128AllGather(m, a, s);
  }
  *what = gather ? "allGather" : "allToAll";
  cuda::PushCopyArgs a;
  a.input = d.send;
  a.inputStride = gather ? 0 : bytes;
  a.output = d.recv;
  a.outputStride = bytes;
  a.bytes = bytes;
  a.senders = a.receivers = (1u << m.size) - 1;
  a.ownCopy = true;
  a.blocks = blocksFor(bytes, m.lanes);
  return cuda::pushCopy(m, a, s);
}

// Broadcast by size: low-latency push up to BRAID_GPU_LL_BROADCAST_BYTES, the chain from
// BRAID_GPU_CHAIN_BYTES (3+ GPUs), scatter + allGather from 8 MiB if the chain starts later,
// else the root's push to everyone.
cudaError_t broadcast(const cuda::PeerMemory& m, const Params& p, const OpDesc& d, size_t bytes,
                      cudaStream_t s, const char** what) {
  const int64_t llMax = p.gpuLlBroadcastBytes > 0 ? p.gpuLlBroadcastBytes
                        : m.size == 2             ? int64_t{1} << 20
                                                  : p.gpuOneShotBytes;
  if (bytes <= std::min(static_cast<size_t>(llMax), m.llBytes)) {
    *what = "low-latency broadcast";
    return cuda::llBroadcast(m, llArgs(m, d, bytes), d.root, s);
  }
  if (m.size >= 3 && bytes >= static_cast<size_t>(p.gpuChainBytes)) {
    *what = "broadcast (chain)";
    cuda::ChainArgs a;
    a.input = d.send;
    a.output = d.recv;
    a.bytes = bytes;
    a.root = d.root;
    a.blocks = blocksFor(bytes, m.lanes);
    return cuda::chainBroadcast(m, a, s);
  }
  if (m.size >= 3 && bytes >= kScatterBroadcastBytes) {
    *what = "broadcast (scatter + allGather)";
    return scatterAllGatherBroadcast(m, d.send, d.recv, bytes, d.root, s);
  }
  *what = "broadcast";
  cuda::PushCopyArgs a;
  a.input = d.send;
  a.output = d.recv;
  a.bytes = bytes;
  a.senders = 1u << d.root;
  a.receivers = ((1u << m.size) - 1) & ~(1u << d.root);
  a.ownCopy = m.rank == d.root;
  a.blocks = blocksFor(bytes, m.lanes);
  return cuda::pushCopy(m, a, s);
}

// Direct collectives (direct.cu) where the buffers a call shares with its peers lie in
// registered windows: allReduce (input and output), reduceScatter (input), allGather (output),
// from BRAID_GPU_DIRECT_BYTES of the whole buffer, unless BRAID_GPU_ALGO forces an algorithm.
// Fills *a and returns true; false: stage as usual. Windows are registered collectively and
// used at the same offsets on every rank, so every rank decides alike.
bool directArgs(const nvlink::PeerMap& map, const Params& p, const OpDesc& d, size_t bytes,
                cuda::DirectArgs* a) {
  const bool allReduce = d.kind == K::kAllReduce, scatter = d.kind == K::kReduceScatter,
             gather = d.kind == K::kAllGather;
  if (!(allReduce || scatter || gather) || p.gpuDirectBytes < 0 || !p.gpuAlgo.empty()) {
    return false;
  }
  const cuda::PeerMemory& m = map.memory();
  const int n = m.size, me = m.rank;
  const size_t whole = allReduce ? bytes : bytes * n;
  if (whole < static_cast<size_t>(p.gpuDirectBytes)) return false;
  size_t inOffset = 0, outOffset = 0;
  const nvlink::Window* in = nullptr;
  const nvlink::Window* out = nullptr;
  if (!gather && (in = map.findWindow(d.send, whole, &inOffset)) == nullptr) return false;
  if (!scatter && (out = map.findWindow(d.recv, whole, &outOffset)) == nullptr) return false;
  for (int r = 0; r < n; ++r) {
    if (in != nullptr) a->input[r] = in->base[r] + inOffset;
    if (out != nullptr) a->output[r] = out->base[r] + outOffset;
  }
  if (gather) a->input[me] = d.send;
  if (scatter) a->output[me] = d.recv;
  a->count = gather ? bytes : d.count;
  // One block per 8 KiB of this rank's part, at most the configured lanes.
  const size_t part = allReduce ? bytes / n : bytes;
  a->blocks = static_cast<int>(std::clamp<size_t>(part / 8192, 1, m.lanes));
  // What must match on every rank, folded to the 32 bits the barrier word has room for.
  const uint64_t h =
      hashOfValues(0, {uint64_t(d.kind), uint64_t(d.count), uint64_t(d.dtype), uint64_t(d.op),
                       uint64_t(in ? in->id : -1), inOffset, uint64_t(out ? out->id : -1),
                       outOffset, uint64_t(a->blocks)});
  a->check = static_cast<uint32_t>(h ^ (h >> 32));
  return true;
}

cudaError_t runDirect(const cuda::PeerMemory& m, const Params& p, const OpDesc& d, size_t bytes,
                      const cuda::DirectArgs& a, cudaStream_t s, const char** what) {
  switch (d.kind) {
    case K::kAllReduce: {
      if (p.gpuDirectPushBytes < 0 || bytes < static_cast<size_t>(p.gpuDirectPushBytes)) {
        *what = "direct allReduce";
        return cuda::directAllReduce(m, a, d.dtype, d.op, s);
      }
      *what = "two-shot allReduce into registered outputs";
      cuda::TwoShotArgs t;
      t.input = d.send;
      t.output = d.recv;
      t.count = d.count;
      t.blocks = blocksFor(bytes / m.size, m.lanes);
      for (int r = 0; r < m.size; ++r) t.outputs[r] = a.output[r];
      t.check = a.check;
      return cuda::twoShotAllReduce(m, t, d.dtype, d.op, s);
    }
    case K::kReduceScatter:
      *what = "direct reduceScatter";
      return cuda::directReduceScatter(m, a, d.dtype, d.op, s);
    default:
      *what = "direct allGather";
      return cuda::directAllGather(m, a, s);
  }
}

// Every collective through the staging buffers (or LL slots), by kind and size.
Result<cudaError_t> runStaged(const cuda::PeerMemory& m, const Params& p, const OpDesc& d,
                              size_t bytes, cudaStream_t s, const char** what) {
  switch (d.kind) {
    case K::kAllReduce: {
      auto algo = allReduceAlgorithm(m, p, bytes);
      if (!algo.isOk()) return algo.status();
      *what = toString(*algo);
      return allReduce(m, d, bytes, *algo, s);
    }
    case K::kReduceScatter:
    case K::kReduce:
      return reduceToReceivers(m, d, bytes, s, what);
    case K::kAllGather:
    case K::kAllToAll:
      return copyToEveryone(m, d, bytes, s, what);
    case K::kBroadcast:
      return broadcast(m, p, d, bytes, s, what);
    default:
      return unsupported(fmt::format("{} has no GPU algorithm", toString(d.kind)));
  }
}

}  // namespace

Result<cudaError_t> launchCollective(const nvlink::PeerMap& map, const Params& p, const OpDesc& d,
                                     cudaStream_t s, const char** what) {
  const size_t bytes = d.count * dataTypeSize(d.dtype);
  cuda::DirectArgs direct;
  if (directArgs(map, p, d, bytes, &direct)) {
    return runDirect(map.memory(), p, d, bytes, direct, s, what);
  }
  return runStaged(map.memory(), p, d, bytes, s, what);
}

size_t ll128BytesFor(int64_t setting, int ranks) {
  if (setting >= 0) return static_cast<size_t>(setting);
  return ranks == 2 ? kTwoGpuLl128Bytes : 0;
}

}  // namespace braid::gpu

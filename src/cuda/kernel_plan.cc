// Which GPU kernel runs a collective, with how many blocks and threads (kernel_plan.h). The
// thresholds come from measurements on H200s, quoted where each is defined.
#include "cuda/kernel_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

namespace braid::gpu {
namespace {

using K = CollectiveKind;

size_t bytesOf(const OpDesc& d) { return d.count * dataTypeSize(d.dtype); }

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

// A low-latency kernel's plan: its blocks and threads.
KernelPlan llPlan(Kernel kernel, const char* what, LlShape shape) {
  KernelPlan plan;
  plan.kernel = kernel;
  plan.what = what;
  plan.blocks = shape.blocks;
  plan.threads = shape.threads;
  return plan;
}
// A staged kernel's plan: blocks for `blockBytes` per destination.
KernelPlan stagedPlan(const cuda::PeerMemory& m, Kernel kernel, const char* what,
                      size_t blockBytes) {
  KernelPlan plan;
  plan.kernel = kernel;
  plan.what = what;
  plan.blocks = blocksFor(blockBytes, m.lanes);
  return plan;
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
Result<KernelPlan> planAllReduce(const cuda::PeerMemory& m, const Params& p, size_t bytes) {
  auto llOneShot = [&] {
    return llPlan(Kernel::kLlReduce, "low-latency one-shot allReduce", llShape(m, bytes));
  };
  auto ll128OneShot = [&] {
    return llPlan(Kernel::kLl128Reduce, "LL128 one-shot allReduce", ll128Shape(m, bytes));
  };
  auto oneShotStaged = [&] {
    return stagedPlan(m, Kernel::kPushReduce, "one-shot allReduce", bytes);
  };
  auto twoShotStaged = [&] {
    return stagedPlan(m, Kernel::kTwoShot, "two-shot allReduce", bytes / m.size);
  };
  const std::string& forced = p.gpuAlgo;
  const Protocol protocol = protocolFor(m, bytes);
  const bool llTwo =
      protocol == Protocol::kLl && 2 * cuda::llTwoShotShard(m.size, bytes) * 8 <= m.llBytes;
  if (forced == "oneshot-staged") return oneShotStaged();
  if (forced == "twoshot-staged") return twoShotStaged();
  if (forced == "oneshot-ll128") {
    return bytes <= m.ll128Bytes ? ll128OneShot() : oneShotStaged();
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
        return llOneShot();
      case Protocol::kLl128:
        return ll128OneShot();
      case Protocol::kStaged:
        return oneShotStaged();
    }
  }
  if (llTwo) return llPlan(Kernel::kLlTwoShot, "low-latency two-shot allReduce", llShape(m, bytes));
  return twoShotStaged();
}

// reduceScatter (low-latency where the block fits) and reduce: blocks pushed to their receivers.
KernelPlan planReduceToReceivers(const cuda::PeerMemory& m, const OpDesc& d, size_t bytes) {
  const bool scatter = d.kind == K::kReduceScatter;
  const Protocol protocol = scatter ? protocolFor(m, bytes) : Protocol::kStaged;
  if (protocol == Protocol::kLl) {
    return llPlan(Kernel::kLlReduce, "low-latency reduceScatter", llShape(m, bytes));
  }
  if (protocol == Protocol::kLl128) {
    return llPlan(Kernel::kLl128Reduce, "LL128 reduceScatter", ll128Shape(m, bytes));
  }
  return stagedPlan(m, Kernel::kPushReduce, scatter ? "reduceScatter" : "reduce", bytes);
}

// allGather (low-latency where the block fits) and allToAll: every rank's block(s) to every
// rank.
KernelPlan planCopyToEveryone(const cuda::PeerMemory& m, const OpDesc& d, size_t bytes) {
  const bool gather = d.kind == K::kAllGather;
  const Protocol protocol = gather ? protocolFor(m, bytes) : Protocol::kStaged;
  if (protocol == Protocol::kLl) {
    return llPlan(Kernel::kLlAllGather, "low-latency allGather", llShape(m, bytes));
  }
  if (protocol == Protocol::kLl128) {
    return llPlan(Kernel::kLl128AllGather, "LL128 allGather", ll128Shape(m, bytes));
  }
  return stagedPlan(m, Kernel::kPushCopy, gather ? "allGather" : "allToAll", bytes);
}

// Broadcasts of at least this many bytes on 3 or more GPUs scatter and allgather (below), when
// BRAID_GPU_CHAIN_BYTES does not send them down the chain first. On 4x H200 (2026-11-22)
// scatter+allGather reached 1.5x the root's push at 16 MiB and 1.7x at >= 256 MiB (196 vs 116
// GB/s busbw); the chain (chain_broadcast.cu) then beat both from 256 KiB: 0.78x NCCL's time at
// 4 MiB, 1.18x at 256 MiB where scatter+allGather took 1.8x.
constexpr size_t kScatterBroadcastBytes = size_t{8} << 20;

// Broadcast by size: low-latency push up to BRAID_GPU_LL_BROADCAST_BYTES, the chain from
// BRAID_GPU_CHAIN_BYTES (3+ GPUs), scatter + allGather from 8 MiB if the chain starts later,
// else the root's push to everyone.
//
// Scatter + allGather: the root scatters one 16-byte-aligned block to each rank, then every
// rank pushes its block to all the others (an allGather), so the root's links carry the buffer
// about once instead of once per peer. The tail that does not divide into equal blocks goes by
// the root's direct push.
KernelPlan planBroadcast(const cuda::PeerMemory& m, const Params& p, size_t bytes) {
  const int64_t llMax = p.gpuLlBroadcastBytes > 0 ? p.gpuLlBroadcastBytes
                        : m.size == 2             ? int64_t{1} << 20
                                                  : p.gpuOneShotBytes;
  if (bytes <= std::min(static_cast<size_t>(llMax), m.llBytes)) {
    return llPlan(Kernel::kLlBroadcast, "low-latency broadcast", llShape(m, bytes));
  }
  if (m.size >= 3 && bytes >= static_cast<size_t>(p.gpuChainBytes)) {
    return stagedPlan(m, Kernel::kChainBroadcast, "broadcast (chain)", bytes);
  }
  if (m.size >= 3 && bytes >= kScatterBroadcastBytes) {
    const size_t block = bytes / m.size / 16 * 16;
    const size_t body = block * m.size;
    KernelPlan plan =
        stagedPlan(m, Kernel::kScatterAllGatherBroadcast, "broadcast (scatter + allGather)", block);
    plan.block = block;
    plan.tailBlocks = body == bytes ? 0 : blocksFor(bytes - body, m.lanes);
    return plan;
  }
  return stagedPlan(m, Kernel::kPushCopy, "broadcast", bytes);
}

}  // namespace

int blocksFor(size_t bytes, int lanes) {
  const size_t want = (bytes + 8191) / 8192;
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(want, lanes)));
}

LlShape llShapeFor(const cuda::PeerMemory& m, size_t work, int maxThreads) {
  LlShape s;
  const size_t want = (work + maxThreads - 1) / maxThreads;
  s.blocks = static_cast<int>(std::max<size_t>(1, std::min<size_t>(want, m.lanes)));
  s.threads =
      static_cast<int>(std::min<size_t>(maxThreads, std::max<size_t>(32, (work + 31) / 32 * 32)));
  return s;
}
LlShape llShape(const cuda::PeerMemory& m, size_t bytes) {
  return llShapeFor(m, (bytes + 7) / 8, cuda::kThreads);
}
LlShape ll128Shape(const cuda::PeerMemory& m, size_t bytes) {
  return llShapeFor(m, cuda::ll128Lines(bytes) * 8, cuda::kLl128Threads);
}

Result<KernelPlan> planStaged(const cuda::PeerMemory& m, const Params& p, const OpDesc& d) {
  const size_t bytes = bytesOf(d);
  switch (d.kind) {
    case K::kAllReduce:
      return planAllReduce(m, p, bytes);
    case K::kReduceScatter:
    case K::kReduce:
      return planReduceToReceivers(m, d, bytes);
    case K::kAllGather:
    case K::kAllToAll:
      return planCopyToEveryone(m, d, bytes);
    case K::kBroadcast:
      return planBroadcast(m, p, bytes);
    default:
      return unsupported(fmt::format("{} has no GPU algorithm", toString(d.kind)));
  }
}

bool directWanted(const cuda::PeerMemory& m, const Params& p, const OpDesc& d) {
  const bool allReduce = d.kind == K::kAllReduce, scatter = d.kind == K::kReduceScatter,
             gather = d.kind == K::kAllGather;
  if (!(allReduce || scatter || gather) || p.gpuDirectBytes < 0 || !p.gpuAlgo.empty()) {
    return false;
  }
  return directSpan(m, d) >= static_cast<size_t>(p.gpuDirectBytes);
}

size_t directSpan(const cuda::PeerMemory& m, const OpDesc& d) {
  const size_t bytes = bytesOf(d);
  return d.kind == K::kAllReduce ? bytes : bytes * m.size;
}

int directBlocks(const cuda::PeerMemory& m, const OpDesc& d) {
  // One block per 8 KiB of this rank's part, at most the configured lanes.
  const size_t bytes = bytesOf(d);
  const size_t part = d.kind == K::kAllReduce ? bytes / m.size : bytes;
  return static_cast<int>(std::clamp<size_t>(part / 8192, 1, m.lanes));
}

KernelPlan planDirect(const cuda::PeerMemory& m, const Params& p, const OpDesc& d) {
  const size_t bytes = bytesOf(d);
  KernelPlan plan;
  plan.blocks = directBlocks(m, d);
  switch (d.kind) {
    case K::kAllReduce:
      if (p.gpuDirectPushBytes < 0 || bytes < static_cast<size_t>(p.gpuDirectPushBytes)) {
        plan.kernel = Kernel::kDirectAllReduce;
        plan.what = "direct allReduce";
      } else {
        plan = stagedPlan(m, Kernel::kTwoShotRegistered,
                          "two-shot allReduce into registered outputs", bytes / m.size);
      }
      return plan;
    case K::kReduceScatter:
      plan.kernel = Kernel::kDirectReduceScatter;
      plan.what = "direct reduceScatter";
      return plan;
    default:
      plan.kernel = Kernel::kDirectAllGather;
      plan.what = "direct allGather";
      return plan;
  }
}

size_t ll128BytesFor(int64_t setting, int ranks) {
  if (setting >= 0) return static_cast<size_t>(setting);
  return ranks == 2 ? kTwoGpuLl128Bytes : 0;
}

}  // namespace braid::gpu

// Launches the kernel kernel_plan.cc chooses for a collective (kernel_choice.h): fills the
// cuda::*Args of algorithms/cuda/kernels.h from the plan and the call, and finds the registered
// windows of the direct kernels. Every rule of the choice lives in kernel_plan.cc.
#include "cuda/kernel_choice.h"

#include <fmt/format.h>

#include "cuda/kernels.h"
#include "util/hash.h"

namespace braid::gpu {
namespace {

using K = CollectiveKind;

uint32_t everyone(const cuda::PeerMemory& m) { return (1u << m.size) - 1; }

// A low-latency kernel's arguments: reduceScatter's block for peer p at send + p * bytes,
// allGather's block of rank s at recv + s * bytes, one block otherwise.
cuda::LlArgs llArgs(const KernelPlan& plan, const OpDesc& d, size_t bytes) {
  cuda::LlArgs a;
  a.input = d.send;
  a.output = d.recv;
  a.bytes = bytes;
  a.inputStride = d.kind == K::kReduceScatter ? bytes : 0;
  a.outputStride = d.kind == K::kAllGather ? bytes : 0;
  a.blocks = plan.blocks;
  a.threads = plan.threads;
  return a;
}

// The two-shot allReduce's arguments (staged; the registered variant adds the outputs).
cuda::TwoShotArgs twoShotArgs(const KernelPlan& plan, const OpDesc& d) {
  cuda::TwoShotArgs a;
  a.input = d.send;
  a.output = d.recv;
  a.count = d.count;
  a.blocks = plan.blocks;
  return a;
}

// Staged reduction into the receivers: one-shot allReduce (everyone, one block), reduceScatter
// (everyone, a block each) and reduce (the root).
cudaError_t pushReduce(const cuda::PeerMemory& m, const KernelPlan& plan, const OpDesc& d,
                       size_t bytes, cudaStream_t s) {
  cuda::PushReduceArgs a;
  a.input = d.send;
  a.inputStride = d.kind == K::kReduceScatter ? bytes : 0;
  a.output = d.recv;
  a.count = d.count;
  a.receivers = d.kind == K::kReduce ? 1u << d.root : everyone(m);
  a.blocks = plan.blocks;
  return cuda::pushReduce(m, a, d.dtype, d.op, s);
}

// Staged copies: allGather and allToAll (every rank's block(s) to every rank; rank s's block
// lands at recv + s * bytes) and broadcast (the root's buffer to everyone).
cudaError_t pushCopy(const cuda::PeerMemory& m, const KernelPlan& plan, const OpDesc& d,
                     size_t bytes, cudaStream_t s) {
  cuda::PushCopyArgs a;
  a.input = d.send;
  a.output = d.recv;
  a.bytes = bytes;
  a.blocks = plan.blocks;
  if (d.kind == K::kBroadcast) {
    a.senders = 1u << d.root;
    a.receivers = everyone(m) & ~(1u << d.root);
    a.ownCopy = m.rank == d.root;
  } else {
    a.inputStride = d.kind == K::kAllToAll ? bytes : 0;
    a.outputStride = bytes;
    a.senders = a.receivers = everyone(m);
    a.ownCopy = true;
  }
  return cuda::pushCopy(m, a, s);
}

// Large broadcast (kernel_plan.cc): the root scatters plan.block to each rank, every rank
// pushes its block to all the others, the root pushes the tail. Three launches on one stream;
// every rank takes the same branch.
cudaError_t scatterAllGatherBroadcast(const cuda::PeerMemory& m, const KernelPlan& plan,
                                      const OpDesc& d, size_t bytes, cudaStream_t s) {
  const size_t block = plan.block;
  const size_t body = block * m.size;
  auto* out = static_cast<uint8_t*>(d.recv);
  const auto* in = static_cast<const uint8_t*>(d.send);
  const uint32_t others = everyone(m) & ~(1u << d.root);
  const bool isRoot = m.rank == d.root;

  cuda::PushCopyArgs scatter;
  scatter.input = d.send;
  scatter.inputStride = block;
  scatter.output = out + m.rank * block;
  scatter.bytes = block;
  scatter.senders = 1u << d.root;
  scatter.receivers = others;
  scatter.ownCopy = isRoot;
  scatter.blocks = plan.blocks;
  cudaError_t e = cuda::pushCopy(m, scatter, s);
  if (e != cudaSuccess) return e;

  cuda::PushCopyArgs gather;
  gather.input = out + m.rank * block;
  gather.output = out;
  gather.outputStride = block;
  gather.bytes = block;
  gather.senders = gather.receivers = everyone(m);
  gather.blocks = plan.blocks;
  e = cuda::pushCopy(m, gather, s);
  if (e != cudaSuccess || body == bytes) return e;

  cuda::PushCopyArgs tail;
  tail.input = isRoot ? in + body : nullptr;
  tail.output = out + body;
  tail.bytes = bytes - body;
  tail.senders = 1u << d.root;
  tail.receivers = others;
  tail.ownCopy = isRoot;
  tail.blocks = plan.tailBlocks;
  return cuda::pushCopy(m, tail, s);
}

// Every collective through the staging buffers (or LL slots).
cudaError_t launchStaged(const cuda::PeerMemory& m, const KernelPlan& plan, const OpDesc& d,
                         cudaStream_t s) {
  const size_t bytes = d.count * dataTypeSize(d.dtype);
  switch (plan.kernel) {
    case Kernel::kLlReduce:
      return cuda::llReduce(m, llArgs(plan, d, bytes), d.dtype, d.op, s);
    case Kernel::kLl128Reduce:
      return cuda::ll128Reduce(m, llArgs(plan, d, bytes), d.dtype, d.op, s);
    case Kernel::kLlTwoShot:
      return cuda::llTwoShotAllReduce(m, llArgs(plan, d, bytes), d.dtype, d.op, s);
    case Kernel::kPushReduce:
      return pushReduce(m, plan, d, bytes, s);
    case Kernel::kTwoShot:
      return cuda::twoShotAllReduce(m, twoShotArgs(plan, d), d.dtype, d.op, s);
    case Kernel::kLlAllGather:
      return cuda::llAllGather(m, llArgs(plan, d, bytes), s);
    case Kernel::kLl128AllGather:
      return cuda::ll128AllGather(m, llArgs(plan, d, bytes), s);
    case Kernel::kPushCopy:
      return pushCopy(m, plan, d, bytes, s);
    case Kernel::kLlBroadcast:
      return cuda::llBroadcast(m, llArgs(plan, d, bytes), d.root, s);
    case Kernel::kChainBroadcast: {
      cuda::ChainArgs a;
      a.input = d.send;
      a.output = d.recv;
      a.bytes = bytes;
      a.root = d.root;
      a.blocks = plan.blocks;
      return cuda::chainBroadcast(m, a, s);
    }
    case Kernel::kScatterAllGatherBroadcast:
      return scatterAllGatherBroadcast(m, plan, d, bytes, s);
    default:
      return cudaErrorInvalidValue;  // the direct kernels: launchDirect
  }
}

// The registered windows that hold d's shared buffers (kernel_plan.h: directWanted): fills *a
// and returns true; false: stage as usual. Windows are registered collectively and used at the
// same offsets on every rank, so every rank decides alike.
bool directArgs(const nvlink::PeerMap& map, const OpDesc& d, cuda::DirectArgs* a) {
  const bool scatter = d.kind == K::kReduceScatter, gather = d.kind == K::kAllGather;
  const cuda::PeerMemory& m = map.memory();
  const int n = m.size, me = m.rank;
  const size_t whole = directSpan(m, d);
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
  a->count = gather ? d.count * dataTypeSize(d.dtype) : d.count;
  a->blocks = directBlocks(m, d);
  // What must match on every rank, folded to the 32 bits the barrier word has room for.
  const uint64_t h =
      hashOfValues(0, {uint64_t(d.kind), uint64_t(d.count), uint64_t(d.dtype), uint64_t(d.op),
                       uint64_t(in ? in->id : -1), inOffset, uint64_t(out ? out->id : -1),
                       outOffset, uint64_t(a->blocks)});
  a->check = static_cast<uint32_t>(h ^ (h >> 32));
  return true;
}

cudaError_t launchDirect(const cuda::PeerMemory& m, const KernelPlan& plan, const OpDesc& d,
                         const cuda::DirectArgs& a, cudaStream_t s) {
  switch (plan.kernel) {
    case Kernel::kDirectAllReduce:
      return cuda::directAllReduce(m, a, d.dtype, d.op, s);
    case Kernel::kTwoShotRegistered: {
      cuda::TwoShotArgs t = twoShotArgs(plan, d);
      for (int r = 0; r < m.size; ++r) t.outputs[r] = a.output[r];
      t.check = a.check;
      return cuda::twoShotAllReduce(m, t, d.dtype, d.op, s);
    }
    case Kernel::kDirectReduceScatter:
      return cuda::directReduceScatter(m, a, d.dtype, d.op, s);
    case Kernel::kDirectAllGather:
      return cuda::directAllGather(m, a, s);
    default:
      return cudaErrorInvalidValue;  // staged kernels: launchStaged
  }
}

}  // namespace

Result<cudaError_t> launchCollective(const nvlink::PeerMap& map, const Params& p, const OpDesc& d,
                                     cudaStream_t s, const char** what) {
  const cuda::PeerMemory& m = map.memory();
  cuda::DirectArgs direct;
  if (directWanted(m, p, d) && directArgs(map, d, &direct)) {
    const KernelPlan plan = planDirect(m, p, d);
    *what = plan.what;
    return launchDirect(m, plan, d, direct, s);
  }
  auto plan = planStaged(m, p, d);
  if (!plan.isOk()) return plan.status();
  *what = plan->what;
  return launchStaged(m, *plan, d, s);
}

}  // namespace braid::gpu

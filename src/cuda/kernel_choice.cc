// Launches the kernel kernel_plan.cc chooses for a collective (kernel_choice.h) with the
// arguments kernel_args.cc fills, and finds the registered windows of the direct kernels (their
// arguments need the PeerMap). Every rule of the choice lives in kernel_plan.cc.
#include "cuda/kernel_choice.h"

#include "cuda/kernel_args.h"
#include "cuda/kernels.h"
#include "util/hash.h"

namespace braid::gpu {
namespace {

using K = CollectiveKind;

// Large broadcast (kernel_args.h): scatter, gather, then the tail where there is one. Three
// launches on one stream; every rank takes the same branch.
cudaError_t scatterAllGatherBroadcast(const cuda::PeerMemory& m, const KernelPlan& plan,
                                      const OpDesc& d, cudaStream_t s) {
  const ScatterAllGatherArgs a = scatterAllGatherArgs(m, plan, d);
  cudaError_t e = cuda::pushCopy(m, a.scatter, s);
  if (e != cudaSuccess) return e;
  e = cuda::pushCopy(m, a.gather, s);
  if (e != cudaSuccess || !a.hasTail) return e;
  return cuda::pushCopy(m, a.tail, s);
}

// Every collective through the staging buffers (or LL slots).
cudaError_t launchStaged(const cuda::PeerMemory& m, const KernelPlan& plan, const OpDesc& d,
                         cudaStream_t s) {
  switch (plan.kernel) {
    case Kernel::kLlReduce:
      return cuda::llReduce(m, llArgs(plan, d), d.dtype, d.op, s);
    case Kernel::kLl128Reduce:
      return cuda::ll128Reduce(m, llArgs(plan, d), d.dtype, d.op, s);
    case Kernel::kLlTwoShot:
      return cuda::llTwoShotAllReduce(m, llArgs(plan, d), d.dtype, d.op, s);
    case Kernel::kPushReduce:
      return cuda::pushReduce(m, pushReduceArgs(m, plan, d), d.dtype, d.op, s);
    case Kernel::kTwoShot:
      return cuda::twoShotAllReduce(m, twoShotArgs(plan, d), d.dtype, d.op, s);
    case Kernel::kLlAllGather:
      return cuda::llAllGather(m, llArgs(plan, d), s);
    case Kernel::kLl128AllGather:
      return cuda::ll128AllGather(m, llArgs(plan, d), s);
    case Kernel::kPushCopy:
      return cuda::pushCopy(m, pushCopyArgs(m, plan, d), s);
    case Kernel::kLlBroadcast:
      return cuda::llBroadcast(m, llArgs(plan, d), d.root, s);
    case Kernel::kChainBroadcast:
      return cuda::chainBroadcast(m, chainArgs(plan, d), s);
    case Kernel::kScatterAllGatherBroadcast:
      return scatterAllGatherBroadcast(m, plan, d, s);
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

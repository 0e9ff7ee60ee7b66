// Low-latency (LL) collectives on GPUs, for small and medium messages: every 8 payload bytes
// travel with their flag in one 16-byte store (primitives.cuh), so a reader polls the data
// itself. There is no fence, no separate flag and no acknowledgement: one NVLink store latency
// per hop, at the price of sending twice the bytes.
//
// Why no acknowledgement is needed: every LL operation has each rank send to and receive from
// every other rank (broadcast adds a one-unit token from each non-root for that), and the slot
// a writer uses alternates by the parity of the LL operation count. When writer w starts LL
// operation j, it has finished operation j - 1, so it has received reader r's data of j - 1,
// which r sends only after its operation j - 2 (the last user of this parity's slot) ended:
// kernels on a communicator run in launch order.
//
// In place: each thread reads the input units it later overwrites itself (the same unit
// indices in every phase), so send == recv is safe.
#include "cuda/dispatch.cuh"
#include "cuda/graph_launch.cuh"
#include "cuda/kernels.h"

namespace braid::cuda {
namespace {

struct Op {
  uint32_t flag;  // the low half of next
  int parity;
  uint64_t next;  // this operation's sequence number + 1
};
__device__ __forceinline__ Op llOperation(const PeerMemory& m) {
  const uint64_t seq = laneSeq(m.counters->llSeq);
  return Op{static_cast<uint32_t>(seq + 1), static_cast<int>(seq & 1), seq + 1};
}

__device__ __forceinline__ size_t firstThread() {
  return static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ size_t allThreads() {
  return static_cast<size_t>(gridDim.x) * blockDim.x;
}

// One-shot: every rank pushes its block for each peer (input + peer * inputStride) into that
// peer's slot; every rank reduces all blocks for it in rank order. allReduce (stride 0) and
// reduceScatter (stride = block bytes). kRanks: the ranks when known at compile time (2), else 0
// (m.size), as in push_reduce.cu: an 8-byte allReduce on 2x H200 took 3.25 us instead of 3.5.
template <typename T, typename Operator, int kRanks>
__global__ void __launch_bounds__(kThreads) llReduceKernel(PeerMemory m, LlArgs a, int avgRanks) {
  const Op op = llOperation(m);
  const int me = m.rank, n = kRanks > 0 ? kRanks : m.size;
  const uint32_t others = ((1u << n) - 1) & ~(1u << me);
  const size_t units = (a.bytes + 7) / 8;
  const auto* in = static_cast<const uint8_t*>(a.input);

  for (size_t u = firstThread(); u < units; u += allThreads()) {
    if (a.inputStride == 0) {
      const uint2 v = loadUnit(in, u, a.bytes);
      for (int p = 0; p < n; ++p) {
        if (p != me) llStore(llSlot(m, p, op.parity, me) + u, v, op.flag);
      }
    } else {
      for (int p = 0; p < n; ++p) {
        if (p != me) {
          llStore(llSlot(m, p, op.parity, me) + u, loadUnit(in + p * a.inputStride, u, a.bytes),
                  op.flag);
        }
      }
    }
  }
  for (size_t u = firstThread(); u < units; u += allThreads()) {
    uint2 vals[kMaxRanks];
    const uint2 own = loadUnit(in + me * a.inputStride, u, a.bytes);  // overlaps the wait
    if (!llPollAll<kRanks>(m, op.parity, others, u, op.flag, vals)) break;
    if constexpr (kRanks == 0) vals[me] = own;
#pragma unroll
    for (int w = 0; w < kRanks; ++w) {
      if (w == me) vals[w] = own;  // not vals[me]: unrolled, the indices are known at compile time
    }
    storeUnit(a.output, u, a.bytes, reduceUnits<T, Operator>(vals, n, avgRanks));
  }
  finishLaunch(m.counters->llSeq, op.next);
}

// allGather: every rank pushes its block to every peer; block s lands at output + s * stride.
__global__ void __launch_bounds__(kThreads) llAllGatherKernel(PeerMemory m, LlArgs a) {
  const Op op = llOperation(m);
  const int me = m.rank, n = m.size;
  const uint32_t others = ((1u << n) - 1) & ~(1u << me);
  const size_t units = (a.bytes + 7) / 8;
  auto* out = static_cast<uint8_t*>(a.output);
  uint8_t* own = out + me * a.outputStride;

  for (size_t u = firstThread(); u < units; u += allThreads()) {
    const uint2 v = loadUnit(a.input, u, a.bytes);
    for (int p = 0; p < n; ++p) {
      if (p != me) llStore(llSlot(m, p, op.parity, me) + u, v, op.flag);
    }
    if (own != a.input) storeUnit(own, u, a.bytes, v);
  }
  for (size_t u = firstThread(); u < units; u += allThreads()) {
    uint2 vals[kMaxRanks];
    if (!llPollAll(m, op.parity, others, u, op.flag, vals)) break;
    for (int w = 0; w < n; ++w) {
      if (w != me) storeUnit(out + w * a.outputStride, u, a.bytes, vals[w]);
    }
  }
  finishLaunch(m.counters->llSeq, op.next);
}

// Broadcast: the root pushes its block to every peer; every other rank pushes a one-unit token
// to every peer (whose thread for unit 0 waits for it), so that each rank hears from all.
__global__ void __launch_bounds__(kThreads) llBroadcastKernel(PeerMemory m, LlArgs a, int root) {
  const Op op = llOperation(m);
  const int me = m.rank, n = m.size;
  const uint32_t others = ((1u << n) - 1) & ~(1u << me);
  const size_t units = (a.bytes + 7) / 8;
  const bool isRoot = me == root;

  for (size_t u = firstThread(); u < units; u += allThreads()) {
    if (isRoot) {
      const uint2 v = loadUnit(a.input, u, a.bytes);
      for (int p = 0; p < n; ++p) {
        if (p != me) llStore(llSlot(m, p, op.parity, me) + u, v, op.flag);
      }
      if (a.output != a.input) storeUnit(a.output, u, a.bytes, v);
    } else if (u == 0) {
      for (int p = 0; p < n; ++p) {
        if (p != me) llStore(llSlot(m, p, op.parity, me), make_uint2(0, 0), op.flag);
      }
    }
  }
  for (size_t u = firstThread(); u < units; u += allThreads()) {
    const uint32_t tokens = u == 0 ? others & ~(1u << root) : 0;
    const uint32_t writers = (isRoot ? 0 : 1u << root) | tokens;
    uint2 vals[kMaxRanks];
    if (writers != 0 && !llPollAll(m, op.parity, writers, u, op.flag, vals)) break;
    if (!isRoot) storeUnit(a.output, u, a.bytes, vals[root]);
  }
  finishLaunch(m.counters->llSeq, op.next);
}

// Two-shot allReduce: the units are cut into n shards of `shard` units; shard j of every rank
// goes to rank j (the first `shard` units of its slot), rank j reduces it and pushes the result
// to every peer (the next `shard` units), unit by unit: no phase waits for a whole phase.
template <typename T, typename Operator>
__global__ void __launch_bounds__(kThreads)
    llTwoShotKernel(PeerMemory m, LlArgs a, size_t shard, int avgRanks) {
  const Op op = llOperation(m);
  const int me = m.rank, n = m.size;
  const uint32_t others = ((1u << n) - 1) & ~(1u << me);
  const size_t units = (a.bytes + 7) / 8;
  const size_t mine = me * shard;

  for (size_t u = firstThread(); u < units; u += allThreads()) {
    const int owner = static_cast<int>(u / shard);
    if (owner != me) {
      llStore(llSlot(m, owner, op.parity, me) + (u - owner * shard), loadUnit(a.input, u, a.bytes),
              op.flag);
    }
  }
  bool ok = true;
  for (size_t v = firstThread(); v < shard && mine + v < units; v += allThreads()) {
    uint2 vals[kMaxRanks];
    const uint2 own = loadUnit(a.input, mine + v, a.bytes);  // overlaps the wait
    if (!llPollAll(m, op.parity, others, v, op.flag, vals)) {
      ok = false;
      break;
    }
    vals[me] = own;
    const uint2 r = reduceUnits<T, Operator>(vals, n, avgRanks);
    storeUnit(a.output, mine + v, a.bytes, r);
    for (int p = 0; p < n; ++p) {
      if (p != me) llStore(llSlot(m, p, op.parity, me) + shard + v, r, op.flag);
    }
  }
  for (size_t u = firstThread(); ok && u < units; u += allThreads()) {
    const int owner = static_cast<int>(u / shard);
    if (owner == me) continue;
    uint2 vals[kMaxRanks];
    if (!llPollAll(m, op.parity, 1u << owner, shard + (u - owner * shard), op.flag, vals)) break;
    storeUnit(a.output, u, a.bytes, vals[owner]);
  }
  finishLaunch(m.counters->llSeq, op.next);
}

}  // namespace

cudaError_t llReduce(const PeerMemory& m, const LlArgs& a, DataType dtype, ReduceOp op,
                     cudaStream_t stream) {
  const int avg = avgRanksOf(m, op);
  return withTypeAndOp(dtype, op, [&](auto t, auto o) {
    return withRanks(m, [&](auto ranks) {
      return launch(llReduceKernel<decltype(t), decltype(o), decltype(ranks)::value>, a.blocks,
                    a.threads, stream, m, a, avg);
    });
  });
}

cudaError_t llAllGather(const PeerMemory& m, const LlArgs& a, cudaStream_t stream) {
  return launch(llAllGatherKernel, a.blocks, a.threads, stream, m, a);
}

cudaError_t llBroadcast(const PeerMemory& m, const LlArgs& a, int root, cudaStream_t stream) {
  return launch(llBroadcastKernel, a.blocks, a.threads, stream, m, a, root);
}

cudaError_t llTwoShotAllReduce(const PeerMemory& m, const LlArgs& a, DataType dtype, ReduceOp op,
                               cudaStream_t stream) {
  const int avg = avgRanksOf(m, op);
  const size_t shard = llTwoShotShard(m.size, a.bytes);
  return withTypeAndOp(dtype, op, [&](auto t, auto o) {
    return launch(llTwoShotKernel<decltype(t), decltype(o)>, a.blocks, a.threads, stream, m, a,
                  shard, avg);
  });
}

}  // namespace braid::cuda

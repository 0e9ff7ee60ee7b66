// LL128 collectives on GPUs, for medium messages: like the LL protocol (ll_push.cu), a reader
// polls the data itself, with no fence, separate flag or acknowledgement, but the flag rides in
// 128-byte lines of 120 payload bytes, so the wire carries 1/15 more than the payload instead of
// twice it. On 2x H200 it beats LL from 16 KiB and the staged pushes up to 2 MiB blocks
// (src/cuda/kernel_plan.cc has the numbers).
//
// The LL128 region has its own operation counter and parity slots, so LL and LL128 operations
// never read each other's stale lines (an LL unit's flag words lie where an LL128 line has
// payload). Why no acknowledgement is needed is LL's argument, per protocol: every LL128
// operation has each rank send to and receive from every other rank, so a writer that starts
// LL128 operation j has received every reader's data of j - 1, sent after that reader's j - 2
// (the last user of this parity's slot) ended.
//
// Work is by warps: a warp carries four consecutive lines per step (lanes 8i..8i+7: line i), and
// every lane takes part in every step, also past the last line, so that the warp-wide stores
// and votes see all 32 lanes. In place: each lane reads the input units it later overwrites
// itself, in the same step order in both phases.
#include "cuda/dispatch.cuh"
#include "cuda/graph_launch.cuh"
#include "cuda/kernels.h"

namespace braid::cuda {
namespace {

// A line is 128 bytes: 120 payload bytes and an 8-byte flag. Eight consecutive lanes of a warp
// store one line in one instruction, 16 bytes each; the eighth (the flag lane) carries 8 payload
// bytes and the flag. NVLink delivers such a line as one write, and eight lanes of a warp load
// it in one instruction, so a load that sees the flag sees the whole line. These are the
// assumptions NCCL's LL128 protocol makes on NVLink; BRAID_GPU_LL128_BYTES=0 turns it off. Which
// payload units a piece carries: ll128FirstUnit and ll128UnitsOf (peer_memory.h).

__device__ __forceinline__ int ll128PieceOfLane() { return threadIdx.x & 7; }
__device__ __forceinline__ bool ll128FlagLane() { return ll128PieceOfLane() == kLl128FlagPiece; }

// This lane's 16 bytes of line `line` in writer's slot of parity in reader's memory.
__device__ __forceinline__ uint4* ll128Piece(const PeerMemory& m, int reader, int parity,
                                             int writer, size_t line) {
  const size_t slotLines = ll128Lines(m.ll128Bytes);
  return reinterpret_cast<uint4*>(m.staging[reader] + m.ll128Offset) +
         ((static_cast<size_t>(parity) * m.size + writer) * slotLines + line) *
             (kLl128LineBytes / 16) +
         ll128PieceOfLane();
}

// Called by every lane of the warp (converged), each with its piece of a line.
__device__ __forceinline__ void ll128Store(uint4* dst, uint2 lo, uint2 hi) {
  asm volatile("st.volatile.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(dst), "r"(lo.x), "r"(lo.y),
               "r"(hi.x), "r"(hi.y)
               : "memory");
}
__device__ __forceinline__ uint2 ll128FlagWord(uint64_t flag) {
  return make_uint2(static_cast<uint32_t>(flag), static_cast<uint32_t>(flag >> 32));
}

// The whole warp waits until every active lane's line carries flag; *got = this lane's piece
// of the load that saw it (above: a load that sees a line's flag sees its payload too; NCCL's
// LL128 reads lines the same way). Warp-uniform result: false on failure.
__device__ inline bool ll128Wait(const PeerMemory& m, const uint4* piece, bool active,
                                 uint64_t flag, int writer, uint4* got) {
  const bool flagLane = ll128FlagLane();
  const uint2 want = ll128FlagWord(flag);
  return warpWaitUntil(m, writer, [&] {
    *got = active ? llLoad(piece) : make_uint4(0, 0, 0, 0);  // past the slot's end
    return __all_sync(kFullWarp, !active || !flagLane || (got->z == want.x && got->w == want.y));
  });
}

struct Op {
  uint64_t flag;  // this operation's sequence number + 1: also what finishLaunch stores
  int parity;
};
__device__ __forceinline__ Op ll128Operation(const PeerMemory& m) {
  const uint64_t seq = laneSeq(m.counters->ll128Seq);
  return Op{seq + 1, static_cast<int>(seq & 1)};
}

// The warp steps of a launch over `lines`: step s of warp w carries lines 4 * (w + s * warps) ..
// + 3; this lane's line is the (lane / 8)-th of them.
struct WarpSteps {
  size_t first, stride, lines;
  __device__ explicit WarpSteps(size_t lines_) : lines(lines_) {
    const size_t warp = (static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
    first = 4 * warp + (threadIdx.x & 31) / 8;
    stride = 4 * (static_cast<size_t>(gridDim.x) * blockDim.x / 32);
  }
  // Loop while the warp's first line is in range (warp-uniform): line - lane / 8 < lines.
  __device__ bool more(size_t line) const { return line - (threadIdx.x & 31) / 8 < lines; }
};

// This lane's piece of `line` of the block at src (of `bytes`): units past the end read as zero;
// the flag lane's upper half is the flag.
struct Piece {
  uint2 lo, hi;
};
__device__ __forceinline__ Piece loadPiece(const uint8_t* src, size_t line, size_t bytes,
                                           uint64_t flag) {
  const size_t u = ll128FirstUnit(line, ll128PieceOfLane());
  return Piece{loadUnit(src, u, bytes),
               ll128FlagLane() ? ll128FlagWord(flag) : loadUnit(src, u + 1, bytes)};
}
__device__ __forceinline__ void storePiece(uint8_t* dst, size_t line, size_t bytes, uint2 lo,
                                           uint2 hi) {
  const size_t u = ll128FirstUnit(line, ll128PieceOfLane());
  storeUnit(dst, u, bytes, lo);
  if (!ll128FlagLane()) storeUnit(dst, u + 1, bytes, hi);
}

// One-shot: every rank pushes its block for each peer (input + peer * inputStride) into that
// peer's slot; every rank reduces all blocks for it in rank order. allReduce (stride 0) and
// reduceScatter (stride = block bytes). kRanks: the ranks when known at compile time (2), else 0
// (m.size), as in push_reduce.cu.
template <typename T, typename Operator, int kRanks>
__global__ void __launch_bounds__(kLl128Threads)
    ll128ReduceKernel(PeerMemory m, LlArgs a, int avgRanks) {
  const Op op = ll128Operation(m);
  const int me = m.rank, n = kRanks > 0 ? kRanks : m.size;
  const auto* in = static_cast<const uint8_t*>(a.input);
  const WarpSteps steps(ll128Lines(a.bytes));

  for (size_t line = steps.first; steps.more(line); line += steps.stride) {
    const bool active = line < steps.lines;
    for (int k = 1; k < n; ++k) {
      const int p = peerAfter(me, k, n);
      const Piece v = loadPiece(in + p * a.inputStride, line, a.bytes, op.flag);
      __syncwarp();
      if (active) ll128Store(ll128Piece(m, p, op.parity, me, line), v.lo, v.hi);
    }
  }
  for (size_t line = steps.first; steps.more(line); line += steps.stride) {
    const bool active = line < steps.lines;
    uint2 lo[kMaxRanks], hi[kMaxRanks];
    // This rank's own piece first: its load overlaps the waits.
    const Piece own = loadPiece(in + me * a.inputStride, line, a.bytes, 0);
    bool ok = true;
#pragma unroll
    for (int w = 0; w < n && ok; ++w) {
      if (w == me) {  // set here, not as lo[me]: unrolled, the indices are known at compile time
        lo[w] = own.lo;
        hi[w] = own.hi;
        continue;
      }
      uint4 v = make_uint4(0, 0, 0, 0);
      ok = ll128Wait(m, ll128Piece(m, me, op.parity, w, line), active, op.flag, w, &v);
      lo[w] = make_uint2(v.x, v.y);
      hi[w] = make_uint2(v.z, v.w);
    }
    if (!ok) break;
    if (active) {
      storePiece(static_cast<uint8_t*>(a.output), line, a.bytes,
                 reduceUnits<T, Operator>(lo, n, avgRanks),
                 reduceUnits<T, Operator>(hi, n, avgRanks));
    }
  }
  finishLaunch(m.counters->ll128Seq, op.flag);
}

// allGather: every rank pushes its block to every peer; block s lands at output + s * stride.
__global__ void __launch_bounds__(kLl128Threads) ll128AllGatherKernel(PeerMemory m, LlArgs a) {
  const Op op = ll128Operation(m);
  const int me = m.rank, n = m.size;
  auto* out = static_cast<uint8_t*>(a.output);
  uint8_t* own = out + me * a.outputStride;
  const WarpSteps steps(ll128Lines(a.bytes));

  for (size_t line = steps.first; steps.more(line); line += steps.stride) {
    const bool active = line < steps.lines;
    const Piece v = loadPiece(static_cast<const uint8_t*>(a.input), line, a.bytes, op.flag);
    __syncwarp();
    for (int k = 1; k < n && active; ++k) {
      ll128Store(ll128Piece(m, peerAfter(me, k, n), op.parity, me, line), v.lo, v.hi);
    }
    if (active && own != a.input) storePiece(own, line, a.bytes, v.lo, v.hi);
  }
  for (size_t line = steps.first; steps.more(line); line += steps.stride) {
    const bool active = line < steps.lines;
    bool ok = true;
    for (int w = 0; w < n && ok; ++w) {
      if (w == me) continue;
      uint4 v = make_uint4(0, 0, 0, 0);
      ok = ll128Wait(m, ll128Piece(m, me, op.parity, w, line), active, op.flag, w, &v);
      if (ok && active) {
        storePiece(out + w * a.outputStride, line, a.bytes, make_uint2(v.x, v.y),
                   make_uint2(v.z, v.w));
      }
    }
    if (!ok) break;
  }
  finishLaunch(m.counters->ll128Seq, op.flag);
}

}  // namespace

cudaError_t ll128Reduce(const PeerMemory& m, const LlArgs& a, DataType dtype, ReduceOp op,
                        cudaStream_t stream) {
  const int avg = avgRanksOf(m, op);
  return withTypeAndOp(dtype, op, [&](auto t, auto o) {
    return withRanks(m, [&](auto ranks) {
      return launch(ll128ReduceKernel<decltype(t), decltype(o), decltype(ranks)::value>, a.blocks,
                    a.threads, stream, m, a, avg);
    });
  });
}

cudaError_t ll128AllGather(const PeerMemory& m, const LlArgs& a, cudaStream_t stream) {
  return launch(ll128AllGatherKernel, a.blocks, a.threads, stream, m, a);
}

}  // namespace braid::cuda

// Device-side building blocks shared by the GPU algorithms: addressing of the peer memory
// (peer_memory.h), flags with system-scope release/acquire, waits that give up on abort, on a
// peer's failure or after the timeout, 16-byte vector copies and reductions (fp16/bf16
// accumulate in fp32), and the end-of-launch counter update that keeps CUDA graphs replayable.
//
// Synchronisation pattern: the threads of a block store data, __syncthreads(), then one thread
// releases a flag in the reader's memory (st.release.sys); the reader's thread 0 acquires the
// flag, __syncthreads(), and the block reads. No separate fence: in the PTX memory model the
// barrier puts every thread's stores before the release in causality order, and the reader's
// acquire of the flag extends that order to its loads, so it sees them all (NCCL publishes the
// same way; a fence.sc.sys before each flag cost ~1.2 us per hand-over on 2x H200, session 10).
// Data a peer pushed is read with L1-bypassing loads (the L1 is not coherent with stores
// arriving over NVLink).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "cuda/peer_memory.h"

namespace braid::cuda {

// --- Flags ---------------------------------------------------------------------------------

__device__ __forceinline__ uint64_t loadAcquire(const uint64_t* p) {
  uint64_t v;
  asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  return v;
}
__device__ __forceinline__ void storeRelease(uint64_t* p, uint64_t v) {
  asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
__device__ __forceinline__ uint64_t globalTimerNs() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__device__ __forceinline__ uint64_t tagOf(uint64_t seq, uint64_t round) {
  return ((seq + 1) << 32) | (round + 1);
}

__device__ __forceinline__ size_t slotOf(const PeerMemory& m, int half, int peer, int lane,
                                         int part) {
  return ((static_cast<size_t>(half) * m.size + peer) * m.lanes + lane) * 2 + part;
}
// In reader's flags: raised by writer when its data in the region is complete.
__device__ __forceinline__ uint64_t* readyFlag(const PeerMemory& m, int reader, int half,
                                               int writer, int lane, int part) {
  return m.flags[reader] + slotOf(m, half, writer, lane, part);
}
// In writer's flags: raised by reader once it consumed the region.
__device__ __forceinline__ uint64_t* ackFlag(const PeerMemory& m, int writer, int half, int reader,
                                             int lane, int part) {
  return m.flags[writer] + flagSlots(m.size, m.lanes) + slotOf(m, half, reader, lane, part);
}
// In this rank's flags: the last tag it raised in reader's region.
__device__ __forceinline__ uint64_t* sentWord(const PeerMemory& m, int half, int reader, int lane,
                                              int part) {
  return m.flags[m.rank] + 2 * flagSlots(m.size, m.lanes) + slotOf(m, half, reader, lane, part);
}
__device__ __forceinline__ uint64_t* failedWord(const PeerMemory& m, int owner, int reporter) {
  return m.flags[owner] + 3 * flagSlots(m.size, m.lanes) + reporter;
}
// The staging region writer uses in reader's memory (stagingSlot: by the writer's distance).
__device__ __forceinline__ uint8_t* region(const PeerMemory& m, int reader, int half, int writer,
                                           int lane, int part) {
  return m.staging[reader] +
         stagingSlot(m.size, m.lanes, reader, half, writer, lane, part) * m.partBytes;
}

// Records the first failure, stops this rank's other blocks and tells the peers. Returns false.
__device__ inline bool deviceFail(const PeerMemory& m, int code, int peer) {
  atomicCAS(&m.control->error, 0, (code << 16) | (peer + 1));
  m.control->abort = 1;
  __threadfence_system();
  for (int r = 0; r < m.size; ++r) {
    if (r != m.rank) storeRelease(failedWord(m, r, m.rank), 1);
  }
  return false;
}

// How often a waiting thread looks beyond its flag: at an abort (a host-mapped word: a read
// crosses PCIe, and thousands of polling threads must not do it on every spin), at peers'
// failure words and at the clock.
inline constexpr uint64_t kCheckEveryNs = 1000000;

// While waiting since `start` (now: the clock), for peer: false, after recording it, when the
// communicator failed (an abort, a peer's failure) or the wait passed the timeout.
__device__ inline bool stillWaiting(const PeerMemory& m, int peer, uint64_t start, uint64_t now) {
  if (m.control->abort) {
    atomicCAS(&m.control->error, 0, (kDeviceAborted << 16) | (peer + 1));
    return false;
  }
  for (int r = 0; r < m.size; ++r) {
    if (r != m.rank && loadAcquire(failedWord(m, m.rank, r)) != 0) {
      return deviceFail(m, kDevicePeerFailed, r);
    }
  }
  if (now - start > m.timeoutNs) return deviceFail(m, kDeviceTimeout, peer);
  return true;
}

// The calling thread waits until ready() holds. False when the communicator failed meanwhile
// (recorded by deviceFail): an abort, a peer's failure, or the timeout while waiting for peer
// (read when it happens: ready() may update it).
template <typename Ready>
__device__ inline bool waitUntil(const PeerMemory& m, const int& peer, Ready ready) {
  if (ready()) return true;
  const uint64_t start = globalTimerNs();
  uint64_t checked = start;
  for (uint32_t i = 1;; ++i) {
    if (ready()) return true;
    if ((i & 255) != 0) continue;
    const uint64_t now = globalTimerNs();
    if (now - checked < kCheckEveryNs) continue;
    checked = now;
    if (!stillWaiting(m, peer, start, now)) return false;
  }
}

// waitUntil for a whole warp, whose every lane calls it with a warp-uniform ready() (one built
// on a warp vote): lane 0's clock and checks decide for all, so the lanes leave together.
inline constexpr unsigned kFullWarp = 0xffffffffu;
template <typename Ready>
__device__ inline bool warpWaitUntil(const PeerMemory& m, int peer, Ready ready) {
  if (ready()) return true;
  const uint64_t start = __shfl_sync(kFullWarp, globalTimerNs(), 0);
  uint64_t checked = start;
  for (uint32_t i = 1;; ++i) {
    if (ready()) return true;
    if ((i & 255) != 0) continue;
    const uint64_t now = __shfl_sync(kFullWarp, globalTimerNs(), 0);
    if (now - checked < kCheckEveryNs) continue;
    checked = now;
    int failed = 0;
    if ((threadIdx.x & 31) == 0) failed = !stillWaiting(m, peer, start, now);
    if (__shfl_sync(kFullWarp, failed, 0)) return false;
  }
}

// One thread waits until *flag >= want (flag in this rank's memory).
__device__ inline bool spinUntil(const PeerMemory& m, const uint64_t* flag, uint64_t want,
                                 int peer) {
  return waitUntil(m, peer, [&] { return loadAcquire(flag) >= want; });
}

// Every thread of the block gets thread 0's verdict. Also a barrier: every thread finished
// what it did before the call.
__device__ __forceinline__ bool blockAgree(bool threadZeroOk) {
  __shared__ int verdict;
  __syncthreads();
  if (threadIdx.x == 0) verdict = threadZeroOk;
  __syncthreads();
  return verdict != 0;
}

// Thread 0 waits until the previous data in reader's region was consumed (its ack caught up
// with what this rank sent there).
__device__ inline bool waitRegionFree(const PeerMemory& m, int reader, int half, int lane,
                                      int part) {
  const uint64_t sent = *sentWord(m, half, reader, lane, part);
  return spinUntil(m, ackFlag(m, m.rank, half, reader, lane, part), sent, reader);
}

// After a block's stores into reader's region: publishes them with tag (see the top of this
// file). Called by one thread per reader, after the block synchronised since the stores (e.g.
// through blockAgree).
__device__ inline void raiseReady(const PeerMemory& m, int reader, int half, int lane, int part,
                                  uint64_t tag) {
  storeRelease(readyFlag(m, reader, half, m.rank, lane, part), tag);
  *sentWord(m, half, reader, lane, part) = tag;
}

// --- Element types and operators -----------------------------------------------------------

template <typename T>
struct Acc {
  using type = T;
  __device__ static type up(T v) { return v; }
  __device__ static T down(type v) { return v; }
};
template <>
struct Acc<__half> {
  using type = float;
  __device__ static float up(__half v) { return __half2float(v); }
  __device__ static __half down(float v) { return __float2half_rn(v); }
};
template <>
struct Acc<__nv_bfloat16> {
  using type = float;
  __device__ static float up(__nv_bfloat16 v) { return __bfloat162float(v); }
  __device__ static __nv_bfloat16 down(float v) { return __float2bfloat16_rn(v); }
};

struct OpSum {
  template <typename A>
  __device__ static A apply(A a, A b) {
    return static_cast<A>(a + b);
  }
};
struct OpProd {
  template <typename A>
  __device__ static A apply(A a, A b) {
    return static_cast<A>(a * b);
  }
};
struct OpMin {
  template <typename A>
  __device__ static A apply(A a, A b) {
    return b < a ? b : a;
  }
};
struct OpMax {
  template <typename A>
  __device__ static A apply(A a, A b) {
    return a < b ? b : a;
  }
};

// kAvg: divide the sum by the ranks (floating: in the accumulation type; integer: truncating).
template <typename A>
__device__ __forceinline__ A finish(A v, int avgRanks) {
  return avgRanks > 0 ? static_cast<A>(v / static_cast<A>(avgRanks)) : v;
}

// --- Copies and reductions over one block's share -------------------------------------------

__device__ __forceinline__ bool aligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15) == 0;
}

// dsts[d][0, bytes) = src[0, bytes) for d < ndst (one load, ndst stores).
__device__ inline void copyToAll(uint8_t* const* dsts, int ndst, const uint8_t* src, size_t bytes) {
  bool vec = aligned16(src);
  for (int d = 0; d < ndst; ++d) vec = vec && aligned16(dsts[d]);
  size_t done = 0;
  if (vec) {
    // Four independent 16-byte loads in flight per thread before the stores.
    constexpr int kUnroll = 4;
    const size_t n = bytes / 16;
    const uint4* s = reinterpret_cast<const uint4*>(src);
    const size_t stride = static_cast<size_t>(blockDim.x) * kUnroll;
    size_t i = threadIdx.x;
    for (; i + (kUnroll - 1) * blockDim.x < n; i += stride) {
      uint4 v[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) v[u] = __ldcg(s + i + u * blockDim.x);
      for (int d = 0; d < ndst; ++d) {
#pragma unroll
        for (int u = 0; u < kUnroll; ++u)
          reinterpret_cast<uint4*>(dsts[d])[i + u * blockDim.x] = v[u];
      }
    }
    for (; i < n; i += blockDim.x) {
      const uint4 v = __ldcg(s + i);
      for (int d = 0; d < ndst; ++d) reinterpret_cast<uint4*>(dsts[d])[i] = v;
    }
    done = n * 16;
  }
  for (size_t i = done + threadIdx.x; i < bytes; i += blockDim.x) {
    const uint8_t v = __ldcg(src + i);
    for (int d = 0; d < ndst; ++d) dsts[d][i] = v;
  }
}

__device__ __forceinline__ void copyBytes(uint8_t* dst, const uint8_t* src, size_t bytes) {
  copyToAll(&dst, 1, src, bytes);
}

// An element load that bypasses L1 (see the top of this file), for any 1/2/4/8-byte type.
template <typename T>
__device__ __forceinline__ T loadCg(const T* p) {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);
  using U = std::conditional_t<
      sizeof(T) == 1, unsigned char,
      std::conditional_t<sizeof(T) == 2, unsigned short,
                         std::conditional_t<sizeof(T) == 4, unsigned int, unsigned long long>>>;
  const U bits = __ldcg(reinterpret_cast<const U*>(p));
  T v;
  memcpy(&v, &bits, sizeof(T));
  return v;
}

// The element-wise steps every reduction shares. accumulate: acc[k] = e[k] (the first source)
// or acc[k] op e[k], in the accumulation type. packed: the N results as T (kAvg divided), in one
// vector Vec of N elements (uint4, uint2).
template <typename T, typename Op, int N>
__device__ __forceinline__ void accumulate(typename Acc<T>::type (&acc)[N], const T* e,
                                           bool first) {
#pragma unroll
  for (int k = 0; k < N; ++k) {
    acc[k] = first ? Acc<T>::up(e[k]) : Op::apply(acc[k], Acc<T>::up(e[k]));
  }
}
template <typename Vec, typename T, int N>
__device__ __forceinline__ Vec packed(const typename Acc<T>::type (&acc)[N], int avgRanks) {
  static_assert(sizeof(Vec) == N * sizeof(T));
  Vec out;
  T* o = reinterpret_cast<T*>(&out);
#pragma unroll
  for (int k = 0; k < N; ++k) o[k] = Acc<T>::down(finish(acc[k], avgRanks));
  return out;
}

// Vectors of one source each thread has in flight in reduceToAll: 8 for 4- and 8-byte types (the
// 16-byte loads of a lane's chunk otherwise wait on each other), fewer for narrower types, whose
// accumulators take a register per element: at most 32 of them (more spilled).
template <typename T>
inline constexpr int kReduceWidth = sizeof(T) >= 4 ? 8 : 2 * static_cast<int>(sizeof(T));

// dsts[d][i] = finish(op over s of srcs[s][i]) for i < count, sources combined in order (the
// same order on every rank, so results are bit-identical everywhere). Each thread reads
// kReduceWidth vectors of one source at once, source after source.
template <typename T, typename Op>
__device__ void reduceToAll(T* const* dsts, int ndst, const T* const* srcs, int nsrc, size_t count,
                            int avgRanks) {
  using A = typename Acc<T>::type;
  constexpr int V = 16 / sizeof(T), W = kReduceWidth<T>;
  bool vec = true;
  for (int s = 0; s < nsrc; ++s) vec = vec && aligned16(srcs[s]);
  for (int d = 0; d < ndst; ++d) vec = vec && aligned16(dsts[d]);
  size_t done = 0;
  if (vec) {
    const size_t n = count / V, step = blockDim.x;
    for (size_t first = threadIdx.x; first < n; first += step * W) {
      A acc[W][V];
      for (int s = 0; s < nsrc; ++s) {
        const uint4* src = reinterpret_cast<const uint4*>(srcs[s]) + first;
        uint4 v[W];
#pragma unroll
        for (int u = 0; u < W; ++u) {
          v[u] = first + u * step < n ? __ldcg(src + u * step) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < W; ++u)
          accumulate<T, Op>(acc[u], reinterpret_cast<const T*>(&v[u]), s == 0);
      }
#pragma unroll
      for (int u = 0; u < W; ++u) {
        if (first + u * step >= n) break;
        const uint4 out = packed<uint4, T>(acc[u], avgRanks);
        for (int d = 0; d < ndst; ++d) reinterpret_cast<uint4*>(dsts[d])[first + u * step] = out;
      }
    }
    done = n * V;
  }
  for (size_t i = done + threadIdx.x; i < count; i += blockDim.x) {
    A acc = Acc<T>::up(loadCg(srcs[0] + i));
    for (int s = 1; s < nsrc; ++s) acc = Op::apply(acc, Acc<T>::up(loadCg(srcs[s] + i)));
    const T v = Acc<T>::down(finish(acc, avgRanks));
    for (int d = 0; d < ndst; ++d) dsts[d][i] = v;
  }
}

// --- Launch bookkeeping ---------------------------------------------------------------------

// The chunk of this launch's staged transfer of `total` units (stagedChunkOf over its lanes).
__device__ __forceinline__ size_t stagedChunk(const PeerMemory& m, size_t total, size_t unitBytes) {
  return stagedChunkOf(total, unitBytes, m.partBytes, gridDim.x);
}

// Called by every thread at the end of a launch: sets the sequence words `seqs` (one per lane,
// in m.counters) to `next`, this launch's sequence number (laneSeq) plus one, for the next launch
// on this stream. Each block sets its own word, which only it read; block 0 also sets the words
// no block of this launch uses. Plain stores of a value the block already knows: an increment
// (load, add, store) cost a dependent L2 round trip per word a thread advanced: 0.7 us of an
// 8-byte allReduce's 4.2 on 2x H200, where one 32-thread block advanced 128 words. No fence and
// no count of finished blocks: with one word for all, the last block had to learn that every
// other block was done reading it, which cost a system-wide fence behind the block's NVLink
// stores. Launches have at most kMaxLanes blocks (all clamp theirs to m.lanes).
__device__ inline void finishLaunch(uint64_t* seqs, uint64_t next) {
  __syncthreads();  // every thread of the block has read its word (laneSeq)
  if (blockIdx.x == 0) {
    for (int l = gridDim.x + threadIdx.x; l < kMaxLanes; l += blockDim.x) seqs[l] = next;
  }
  if (threadIdx.x == 0) seqs[blockIdx.x] = next;
}
__device__ inline void finishCollective(const PeerMemory& m, uint64_t seq) {
  finishLaunch(m.counters->collectiveSeq, seq + 1);
}

// This launch's sequence number (this block's word; every word holds the same).
__device__ __forceinline__ uint64_t laneSeq(const uint64_t* seqs) {
  return *reinterpret_cast<const volatile uint64_t*>(&seqs[blockIdx.x]);
}
__device__ __forceinline__ uint64_t collectiveSeq(const PeerMemory& m) {
  return laneSeq(m.counters->collectiveSeq);
}

// The k-th peer after `me` in ring order. Loops that copy to one peer after another start at
// me + 1, so that at each moment every rank writes to a different peer: in rank order all ranks
// would write to rank 0 first, three links' worth into one GPU on 4 GPUs while others idle.
__device__ __forceinline__ int peerAfter(int me, int k, int n) {
  return me + k < n ? me + k : me + k - n;
}

// The sending half of one round of a push (push_reduce.cu, push_copy.cu): wait until every
// receiver's staging part is free, copy `bytes` of this rank's block for each receiver into it
// (block p at src + p * stride; stride 0: the same bytes for all, read once, and also written
// to alsoTo when given: the sender's own output in the same pass), then raise the receivers'
// ready flags. False, for the whole block, when a wait gave up. kRanks: the ranks when the
// kernel knows them at compile time (0: m.size), so that its loops unroll.
template <int kRanks = 0>
__device__ inline bool pushRound(const PeerMemory& m, uint32_t receivers, int half, int lane,
                                 int part, uint64_t tag, const uint8_t* src, size_t stride,
                                 size_t bytes, uint8_t* alsoTo = nullptr) {
  const int me = m.rank, n = kRanks > 0 ? kRanks : m.size;
  auto isReceiver = [&](int p) { return p != me && ((receivers >> p) & 1u); };
  bool ok = true;
  if (threadIdx.x == 0) {
    for (int p = 0; p < n && ok; ++p) {
      if (isReceiver(p)) ok = waitRegionFree(m, p, half, lane, part);
    }
  }
  if (!blockAgree(ok)) return false;
  // One read of src for all destinations where they share it (stride 0), except with one peer
  // and nothing else to write (kRanks 2): the loop below then copies once, with no list.
  if (stride == 0 && (kRanks != 2 || alsoTo != nullptr)) {
    uint8_t* dsts[kMaxRanks + 1];
    int nd = 0;
    for (int p = 0; p < n; ++p) {
      if (isReceiver(p)) dsts[nd++] = region(m, p, half, me, lane, part);
    }
    if (alsoTo != nullptr) dsts[nd++] = alsoTo;
    copyToAll(dsts, nd, src, bytes);
  } else {
    for (int k = 1; k < n; ++k) {
      const int p = peerAfter(me, k, n);
      if (isReceiver(p)) copyBytes(region(m, p, half, me, lane, part), src + p * stride, bytes);
    }
  }
  blockAgree(true);
  if (threadIdx.x < n && isReceiver(threadIdx.x)) raiseReady(m, threadIdx.x, half, lane, part, tag);
  return true;
}

// --- Barriers of the kernels on registered buffers ----------------------------------------
// Each lane (thread block) meets the same lane of every peer; the word carries the operation's
// sequence number and a hash of the call, so that a peer that made another call (another
// offset, count or type) is caught before any byte is read or written.

inline constexpr int kMeetStart = 0, kMeetEnd = 1;

// In owner's flags: the barrier word writer raises there for lane's phase.
__device__ __forceinline__ uint64_t* meetFlag(const PeerMemory& m, int owner, int writer, int lane,
                                              int phase) {
  return m.flags[owner] + directFlagsOffset(m.size, m.lanes) +
         (static_cast<size_t>(writer) * m.lanes + lane) * 2 + phase;
}

__device__ __forceinline__ uint64_t meetWord(uint64_t seq, uint32_t check) {
  return ((seq + 1) << 32) | check;
}

// Lane `lane` of every rank meets here: raises `word` in every peer, then waits for every
// peer's word of this operation (another check: kDeviceMismatch). Every thread of the block
// calls it; returns the block's verdict.
__device__ inline bool meet(const PeerMemory& m, int lane, int phase, uint64_t word) {
  const int me = m.rank, n = m.size;
  __syncthreads();
  if (threadIdx.x < n && threadIdx.x != me) {
    storeRelease(meetFlag(m, threadIdx.x, me, lane, phase), word);
  }
  bool ok = true;
  if (threadIdx.x == 0) {
    for (int p = 0; p < n && ok; ++p) {
      if (p == me) continue;
      const uint64_t* flag = meetFlag(m, me, p, lane, phase);
      uint64_t seen = 0;
      ok = waitUntil(m, p, [&] {
        seen = loadAcquire(flag);
        return (seen >> 32) == (word >> 32);
      });
      if (ok && seen != word) ok = deviceFail(m, kDeviceMismatch, p);
    }
  }
  return blockAgree(ok);
}

// --- Low-latency (LL) units -----------------------------------------------------------------
// 8 payload bytes travel with two copies of a 4-byte flag in one 16-byte store
// {data0, flag, data1, flag}; each aligned 8-byte half arrives whole, so a reader that sees
// both flags equal to the operation's flag has the whole payload. No fence, flag or ack.

__device__ __forceinline__ uint4* llSlot(const PeerMemory& m, int reader, int parity, int writer) {
  const size_t unitsPerSlot = m.llBytes / 8;
  return reinterpret_cast<uint4*>(m.staging[reader] + m.llOffset) +
         (static_cast<size_t>(parity) * m.size + writer) * unitsPerSlot;
}

__device__ __forceinline__ void llStore(uint4* dst, uint2 v, uint32_t flag) {
  asm volatile("st.volatile.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(dst), "r"(v.x), "r"(flag),
               "r"(v.y), "r"(flag)
               : "memory");
}

__device__ __forceinline__ uint4 llLoad(const uint4* src) {
  uint4 v;
  asm volatile("ld.volatile.global.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(src)
               : "memory");
  return v;
}

// Waits for unit `unit` of every writer in `writers` (a bit mask, never this rank) in this
// rank's slot of parity, all polled together; got[w] = writer w's payload. False on failure.
// kRanks: the ranks when the kernel knows them at compile time (0: m.size).
template <int kRanks = 0>
__device__ inline bool llPollAll(const PeerMemory& m, int parity, uint32_t writers, size_t unit,
                                 uint32_t flag, uint2* got) {
  uint32_t pending = writers;
  int waitingFor = 0;
  const int n = kRanks > 0 ? kRanks : m.size;
  return waitUntil(m, waitingFor, [&] {
    for (int w = 0; w < n; ++w) {
      if (!((pending >> w) & 1u)) continue;
      const uint4 v = llLoad(llSlot(m, m.rank, parity, w) + unit);
      if (v.y == flag && v.w == flag) {
        got[w] = make_uint2(v.x, v.z);
        pending &= ~(1u << w);
      } else {
        waitingFor = w;
      }
    }
    return pending == 0;
  });
}

// Unit u (bytes [8u, 8u + 8) of a buffer of `bytes`): loads and stores for any alignment; the
// part past the end reads as zero and is not written.
__device__ __forceinline__ uint2 loadUnit(const void* base, size_t u, size_t bytes) {
  const uint8_t* p = static_cast<const uint8_t*>(base) + 8 * u;
  if ((reinterpret_cast<uintptr_t>(p) & 7) == 0 && 8 * u + 8 <= bytes) {
    return *reinterpret_cast<const uint2*>(p);
  }
  uint8_t b[8] = {};
  for (size_t i = 0; i < 8 && 8 * u + i < bytes; ++i) b[i] = p[i];
  uint2 v;
  memcpy(&v, b, 8);
  return v;
}
__device__ __forceinline__ void storeUnit(void* base, size_t u, size_t bytes, uint2 v) {
  uint8_t* p = static_cast<uint8_t*>(base) + 8 * u;
  if ((reinterpret_cast<uintptr_t>(p) & 7) == 0 && 8 * u + 8 <= bytes) {
    *reinterpret_cast<uint2*>(p) = v;
    return;
  }
  uint8_t b[8];
  memcpy(b, &v, 8);
  for (size_t i = 0; i < 8 && 8 * u + i < bytes; ++i) p[i] = b[i];
}

// The reduction of vals[0..n) (8-byte units of elements T) in rank order.
template <typename T, typename Op>
__device__ __forceinline__ uint2 reduceUnits(const uint2* vals, int n, int avgRanks) {
  using A = typename Acc<T>::type;
  constexpr int E = 8 / sizeof(T);
  A acc[E];
  accumulate<T, Op>(acc, reinterpret_cast<const T*>(&vals[0]), true);
  for (int s = 1; s < n; ++s) accumulate<T, Op>(acc, reinterpret_cast<const T*>(&vals[s]), false);
  return packed<uint2, T>(acc, avgRanks);
}

}  // namespace braid::cuda

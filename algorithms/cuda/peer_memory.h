// The layout of the peer memory the GPU kernels work in, shared by the host side that maps it
// (transports/nvlink) and the kernels (algorithms/cuda). Plain data, no CUDA types, so that the
// C++ host code and nvcc see the same struct.
//
// Every rank owns a staging buffer and a flag array in device memory; every peer maps both
// (CUDA IPC). Data always moves by *push*: a writer stores into the reader's staging buffer,
// then raises a ready flag in the reader's flags; the reader waits on its own (local) flags,
// consumes, and writes an ack into the writer's flags. Before reusing a region the writer waits
// for the ack of its previous use. Flag values are tags, (operation sequence + 1) << 32 |
// (round + 1), increasing for ever in each slot, so no flag is ever reset.
//
// Staging of rank r = [half 0..2][writer r+1..r+n-1 (mod n)][lane 0..lanes-1][part A/B]
// regions of partBytes (no region for r itself: it never writes there), then the low-latency
// (LL) region: [parity 0..1][writer 0..n-1] slots of 2 * llBytes, where a writer stores 8
// payload bytes and two copies of a 4-byte flag in each 16-byte unit (one store), so a reader
// polls the data itself and needs no separate flag, fence or ack (see ll_push.cu); then the
// LL128 region, laid out alike with slots of 128-byte lines (120 payload bytes and an 8-byte
// flag each, ll128_push.cu): 1/15 more traffic instead of LL's twice. Collectives
// alternate halves 0 and 1 by sequence number (a writer may run one operation ahead of a slow
// reader); half 2 carries sends and receives. A lane is the region one thread block uses; a
// block uses the same lane in every round of an operation.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define BRAID_HOST_DEVICE __host__ __device__
#else
#define BRAID_HOST_DEVICE
#endif

namespace braid::cuda {

inline constexpr int kMaxRanks = 8;    // ranks of one kernel-path communicator (one host)
inline constexpr int kMaxLanes = 128;  // thread blocks per collective (BRAID_GPU_BLOCKS)
inline constexpr int kHalves = 3;      // collective halves 0, 1; point-to-point 2
inline constexpr int kP2pHalf = 2;
inline constexpr int kThreads = 512;  // per block, every kernel but LL128's
// LL128 blocks: each warp waits on its own lines, so more warps per block keep more lines in
// flight on the same multiprocessors (its kernels use ~50 registers, within 1024 threads' 64).
inline constexpr int kLl128Threads = 1024;

// Device-side counters of one communicator (local memory, not shared with peers). Kernels read
// their sequence numbers here and set the next ones at the end of each launch, so a captured
// CUDA graph runs with fresh sequence numbers on every replay. The collective counters are kept
// per lane: block b reads word b and stores the next number there (block 0 also in the words of
// lanes the launch has no block for), so all words stay equal and no block waits for another to
// finish reading (primitives.cuh: finishLaunch).
struct Counters {
  uint64_t collectiveSeq[kMaxLanes];
  uint64_t llSeq[kMaxLanes];     // LL operations (ll_push.cu) so far
  uint64_t ll128Seq[kMaxLanes];  // LL128 operations (ll128_push.cu) so far
  uint32_t blocksDone;           // point-to-point launches: blocks finished
  uint32_t reserved;
  uint64_t sendSeq[kMaxRanks];  // point-to-point, by peer
  uint64_t recvSeq[kMaxRanks];
};

// Host-mapped (pinned) words the host and the kernels share.
struct Control {
  volatile int abort;  // non-zero: every wait gives up
  int error;           // first failure seen by a kernel: code << 16 | (peer + 1)
};
enum DeviceError : int {
  kDeviceTimeout = 1,
  kDeviceAborted = 2,
  kDevicePeerFailed = 3,
  kDeviceMismatch = 4,  // a peer called a direct collective with other arguments
};

// What every kernel gets (by value).
struct PeerMemory {
  int rank = 0;
  int size = 1;
  int lanes = 1;
  size_t partBytes = 0;
  size_t llOffset = 0;               // the LL region: staging[r] + llOffset
  size_t llBytes = 0;                // LL payload capacity of one writer's slot
  size_t ll128Offset = 0;            // the LL128 region: staging[r] + ll128Offset
  size_t ll128Bytes = 0;             // LL128 payload capacity of one writer's slot (0: none)
  uint8_t* staging[kMaxRanks] = {};  // each rank's staging, as mapped here
  uint64_t* flags[kMaxRanks] = {};   // each rank's flags, as mapped here
  Counters* counters = nullptr;
  Control* control = nullptr;  // device pointer of the host-mapped words
  uint64_t timeoutNs = 0;
};

// Flag arrays: ready, ack and sent, each kHalves * n * lanes * 2 words, then one word per rank
// where peers report their failure, then the direct kernels' barrier words (direct.cu):
// [writer 0..n-1][lane][start/end].
BRAID_HOST_DEVICE inline size_t flagSlots(int n, int lanes) {
  return static_cast<size_t>(kHalves) * n * lanes * 2;
}
BRAID_HOST_DEVICE inline size_t directFlagsOffset(int n, int lanes) {
  return 3 * flagSlots(n, lanes) + kMaxRanks;
}
BRAID_HOST_DEVICE inline size_t flagWords(int n, int lanes) {
  return directFlagsOffset(n, lanes) + static_cast<size_t>(n) * lanes * 2;
}
// Staging parts of one rank: kHalves x (n - 1) writers (a rank never writes its own staging) x
// lanes x 2 parts.
BRAID_HOST_DEVICE inline size_t stagingParts(int n, int lanes) {
  return static_cast<size_t>(kHalves) * (n > 1 ? n - 1 : 1) * lanes * 2;
}
// The part writer uses in reader's staging for (half, lane, part): writers are indexed by their
// distance after the reader, 1..n-1. Never called with writer == reader.
BRAID_HOST_DEVICE inline size_t stagingSlot(int n, int lanes, int reader, int half, int writer,
                                            int lane, int part) {
  const int after = (writer - reader + n) % n - 1;
  return ((static_cast<size_t>(half) * (n - 1) + after) * lanes + lane) * 2 + part;
}

// The chunk of a staged transfer of `total` units of `unitBytes` (an element, or a byte) over
// `lanes` lanes whose parts hold partBytes: as few rounds as whole parts allow (each round costs
// every lane a flag round trip), and within them equal chunks that keep every lane busy, each a
// multiple of 16 bytes and at most one part. With whole parts instead, a buffer of a few parts
// ran on that many lanes while the rest idled, and a last round of a few parts kept the rest
// waiting.
BRAID_HOST_DEVICE inline size_t stagedChunkOf(size_t total, size_t unitBytes, size_t partBytes,
                                              size_t lanes) {
  const size_t cap = partBytes / unitBytes;
  const size_t rounds = total == 0 ? 1 : (total + cap * lanes - 1) / (cap * lanes);
  const size_t align = unitBytes >= 16 ? 1 : 16 / unitBytes;
  const size_t chunk =
      ((total + rounds * lanes - 1) / (rounds * lanes) + align - 1) / align * align;
  return chunk < cap ? chunk : cap;
}

// The round r share of lane l when a buffer of `total` units is cut into chunks of `chunk`
// units, lanes chunks per round: [begin, begin + n). n == 0: the lane has no more rounds.
struct Share {
  size_t begin;
  size_t n;
};
BRAID_HOST_DEVICE inline Share shareOf(size_t total, size_t chunk, int lanes, int lane,
                                       size_t round) {
  const size_t begin = (round * lanes + lane) * chunk;
  if (begin >= total) return Share{begin, 0};
  return Share{begin, total - begin < chunk ? total - begin : chunk};
}

// Bytes of the LL region: 2 parities x n writers x 16-byte units for llBytes of payload.
BRAID_HOST_DEVICE inline size_t llRegionBytes(int n, size_t llBytes) {
  return 2 * static_cast<size_t>(n) * (llBytes / 8) * 16;
}

// Units (8 bytes) per shard of the LL two-shot allReduce (ll_push.cu) of `bytes`: n shards.
BRAID_HOST_DEVICE inline size_t llTwoShotShard(int n, size_t bytes) {
  return ((bytes + 7) / 8 + n - 1) / n;
}

// LL128 lines: 128 bytes, of which the last 8 are the flag.
inline constexpr size_t kLl128LineBytes = 128;
inline constexpr size_t kLl128DataBytes = 120;
// Lines that carry `bytes` of payload.
BRAID_HOST_DEVICE inline size_t ll128Lines(size_t bytes) {
  return (bytes + kLl128DataBytes - 1) / kLl128DataBytes;
}
// The payload of a line, by its 16-byte pieces 0..7: piece k carries the 8-byte units
// 15 * line + 2k and, except the last piece (whose upper half is the flag), the one after.
inline constexpr int kLl128FlagPiece = 7;
BRAID_HOST_DEVICE inline size_t ll128FirstUnit(size_t line, int piece) {
  return line * (kLl128DataBytes / 8) + 2 * static_cast<size_t>(piece);
}
BRAID_HOST_DEVICE inline int ll128UnitsOf(int piece) { return piece == kLl128FlagPiece ? 1 : 2; }
// Bytes of the LL128 region: 2 parities x n writers x the lines for ll128Bytes of payload.
BRAID_HOST_DEVICE inline size_t ll128RegionBytes(int n, size_t ll128Bytes) {
  return 2 * static_cast<size_t>(n) * ll128Lines(ll128Bytes) * kLl128LineBytes;
}

}  // namespace braid::cuda

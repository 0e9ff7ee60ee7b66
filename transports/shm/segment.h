// The layout of a shared-memory segment, shared by the shm transport (slot rings) and its arena
// (windows for one-shot/two-shot algorithms), plus the futex doorbell primitives.
//
// Each rank's segment: RankBlock (doorbell, error slot, arena counters) | one ChannelControl
// per group member | slot rings (one per receiving member) | arena: tags, then two window
// halves, each a staging area and a result area of windowBytes.
#pragma once

#include <linux/futex.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>

#include "braid/status.h"

namespace braid::shm {

constexpr uint32_t kSlotMagic = 0x62536c74;  // "bSlt"
constexpr size_t kErrorTextBytes = 2048;

struct alignas(64) PaddedCounter {
  std::atomic<uint64_t> value;
};

struct alignas(64) RankBlock {
  std::atomic<uint32_t> doorbell;
  std::atomic<uint32_t> sleeping;
  alignas(64) std::atomic<uint32_t> errorSet;
  uint32_t errorLength;
  char errorText[kErrorTextBytes];
  PaddedCounter counters[4];  // arena counters, written only by the owner
};

struct alignas(64) ChannelControl {
  alignas(64) std::atomic<uint64_t> head;  // fragments published by the sender
  alignas(64) std::atomic<uint64_t> tail;  // fragments consumed by the receiver
};

struct alignas(64) SlotHeader {
  uint32_t magic;
  uint8_t kind;
  uint8_t pad[3];
  uint64_t seq;
  uint64_t messageBytes;
  uint64_t offset;
  uint64_t length;
};
static_assert(sizeof(SlotHeader) == 64);

inline long futexWait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeoutNs) {
  timespec ts{static_cast<time_t>(timeoutNs / 1000000000),
              static_cast<long>(timeoutNs % 1000000000)};
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr,
                 0);
}
inline void futexWake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0);
}

// Layout of one rank's segment, identical on every rank of the group.
struct SegmentLayout {
  size_t groupSize = 0;
  size_t slots = 0;
  size_t slotBytes = 0;    // payload bytes per slot
  size_t windowBytes = 0;  // arena staging (and result) bytes per window half

  size_t slotStride() const { return sizeof(SlotHeader) + slotBytes; }
  size_t controlOffset() const { return sizeof(RankBlock); }
  size_t slotsOffset() const { return controlOffset() + groupSize * sizeof(ChannelControl); }
  size_t arenaOffset() const { return slotsOffset() + groupSize * slots * slotStride(); }
  size_t windowOffset(int half) const { return arenaOffset() + 128 + half * 2 * windowBytes; }
  size_t totalBytes() const { return windowOffset(2); }
};

// A mapped segment: this rank's own, or a peer's.
struct Segment {
  uint8_t* base = nullptr;
  size_t bytes = 0;
  std::string name;
  bool owner = false;

  RankBlock* block() const { return reinterpret_cast<RankBlock*>(base); }
  ChannelControl* control(const SegmentLayout& l, size_t receiverPos) const {
    return reinterpret_cast<ChannelControl*>(base + l.controlOffset()) + receiverPos;
  }
  SlotHeader* slot(const SegmentLayout& l, size_t receiverPos, uint64_t index) const {
    size_t i = receiverPos * l.slots + index % l.slots;
    return reinterpret_cast<SlotHeader*>(base + l.slotsOffset() + i * l.slotStride());
  }
  std::atomic<uint64_t>* tag(const SegmentLayout& l, int half) const {
    return reinterpret_cast<std::atomic<uint64_t>*>(base + l.arenaOffset() + 64 * half);
  }
  uint8_t* staging(const SegmentLayout& l, int half) const { return base + l.windowOffset(half); }
  uint8_t* result(const SegmentLayout& l, int half) const {
    return base + l.windowOffset(half) + l.windowBytes;
  }
};

inline void ring(RankBlock* block) {
  block->doorbell.fetch_add(1, std::memory_order_seq_cst);
  if (block->sleeping.load(std::memory_order_seq_cst) != 0) futexWake(&block->doorbell);
}

// The error a peer published in its RankBlock, as this rank reports it (kOk if none).
inline Status peerReport(const RankBlock* block, int rank) {
  if (block->errorSet.load(std::memory_order_acquire) == 0) return Status();
  size_t n = block->errorLength < kErrorTextBytes ? block->errorLength : kErrorTextBytes;
  return remoteError("rank " + std::to_string(rank) +
                     " reported: " + std::string(block->errorText, n));
}

// Whether the process behind a pidfd has exited (-1: never, e.g. a rank that is a thread here).
inline bool processExited(int pidfd) {
  if (pidfd < 0) return false;
  pollfd pfd{pidfd, POLLIN, 0};
  return poll(&pfd, 1, 0) > 0;
}

}  // namespace braid::shm

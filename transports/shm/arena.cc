// Waiting on and waking the members of a shared-memory arena.
#include "shm/arena.h"

#include <poll.h>

#include <algorithm>

#include "logging.h"
#include "params.h"
#include "util/spin.h"

namespace braid::shm {

ShmArena::ShmArena(const SegmentLayout& layout, std::vector<ArenaMember> members, int self)
    : layout_(layout), members_(std::move(members)), self_(self) {}

int ShmArena::groupIndex(int rank) const {
  for (size_t m = 0; m < members_.size(); ++m) {
    if (members_[m].rank == rank) return static_cast<int>(m);
  }
  return -1;
}

void ShmArena::notifyAll() {
  for (size_t m = 0; m < members_.size(); ++m) {
    if (static_cast<int>(m) != self_) ring(members_[m].segment->block());
  }
}

bool ShmArena::reached(int c, uint64_t value) const {
  for (const ArenaMember& m : members_) {
    if (m.segment->block()->counters[c].value.load(std::memory_order_acquire) < value) return false;
  }
  return true;
}

Status ShmArena::peerTrouble() const {
  for (size_t m = 0; m < members_.size(); ++m) {
    if (static_cast<int>(m) == self_) continue;
    BRAID_RETURN_IF_ERROR(peerReport(members_[m].segment->block(), members_[m].rank));
  }
  return Status();
}

Status ShmArena::waitAll(int c, uint64_t value, Clock::time_point deadline,
                         const std::atomic<bool>* aborted) {
  if (reached(c, value)) return Status();
  const bool spinForever = params().spin;
  const auto spinUntil = Clock::now() + std::chrono::microseconds(params().spinUs);
  for (uint64_t i = 0;; ++i) {
    if (reached(c, value)) return Status();
    spinPause(i);
    if (i % 8 != 7) continue;  // the clock costs more than a poll
    const Clock::time_point now = Clock::now();
    if (!spinForever && now >= spinUntil) break;
    // BRAID_SPIN never blocks: give the caller its slice back to check everything else.
    if (now >= deadline) break;
  }
  RankBlock* me = members_[self_].segment->block();
  for (;;) {
    BRAID_RETURN_IF_ERROR(peerTrouble());
    if (aborted != nullptr && aborted->load(std::memory_order_relaxed)) {
      return abortedError("aborted");
    }
    me->sleeping.store(1, std::memory_order_seq_cst);
    uint32_t seen = me->doorbell.load(std::memory_order_seq_cst);
    if (reached(c, value)) {
      me->sleeping.store(0, std::memory_order_relaxed);
      return Status();
    }
    auto left =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      me->sleeping.store(0, std::memory_order_relaxed);
      std::string silent;
      for (const ArenaMember& m : members_) {
        if (m.segment->block()->counters[c].value.load() < value) {
          silent += (silent.empty() ? "" : ", ") + std::to_string(m.rank);
        }
      }
      return timeoutError(fmt::format("timed out waiting for rank(s) {} (BRAID_TIMEOUT)", silent));
    }
    futexWait(&me->doorbell, seen, std::min<int64_t>(left, 100'000'000));
    me->sleeping.store(0, std::memory_order_relaxed);
    if (reached(c, value)) return Status();
    // A peer's report explains more than the exit that may follow it.
    BRAID_RETURN_IF_ERROR(peerTrouble());
    for (const ArenaMember& m : members_) {
      if (processExited(m.pidfd)) {
        return remoteError(fmt::format("rank {} (pid {}) died", m.rank, m.pid));
      }
    }
  }
}

}  // namespace braid::shm

// The shm transport's SharedArena: every group member's window halves and counters, mapped in
// every member's address space, with waits that spin, then sleep on the member's doorbell.
#pragma once

#include <sys/types.h>
#include <transport.h>

#include <vector>

#include "shm/segment.h"

namespace braid::shm {

struct ArenaMember {
  int rank = -1;
  const Segment* segment = nullptr;
  int pidfd = -1;  // -1: this process (threads as ranks) or this rank
  pid_t pid = 0;
};

class ShmArena final : public SharedArena {
 public:
  ShmArena(const SegmentLayout& layout, std::vector<ArenaMember> members, int self);

  int groupSize() const override { return static_cast<int>(members_.size()); }
  int groupIndex(int rank) const override;
  int rankOf(int member) const override { return members_[member].rank; }
  size_t windowBytes() const override { return layout_.windowBytes; }
  uint8_t* staging(int m, int half) override { return members_[m].segment->staging(layout_, half); }
  uint8_t* result(int m, int half) override { return members_[m].segment->result(layout_, half); }
  std::atomic<uint64_t>& tag(int m, int half) override {
    return *members_[m].segment->tag(layout_, half);
  }
  std::atomic<uint64_t>& counter(int m, int c) override {
    return members_[m].segment->block()->counters[c].value;
  }
  uint64_t& nextRound() override { return nextRound_; }
  void notifyAll() override;
  Status waitAll(int c, uint64_t value, Clock::time_point deadline,
                 const std::atomic<bool>* aborted) override;

 private:
  bool reached(int c, uint64_t value) const;
  Status peerTrouble() const;

  const SegmentLayout& layout_;
  std::vector<ArenaMember> members_;
  int self_;
  uint64_t nextRound_ = 0;
};

}  // namespace braid::shm

// OpContext: what an algorithm sees while it runs one operation. It posts sends and receives to
// peers (through whichever transport reaches each peer), owns their Requests, provides scratch
// memory, and waits for completion with the communicator's policy: progress every transport,
// spin briefly, then block; fail on the deadline naming the silent ranks, on a peer's error, or
// on abort.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "braid/status.h"
#include "braid/types.h"
#include "reducer.h"
#include "transport.h"

namespace braid {

// The communicator-owned state an OpContext runs against.
struct OpEnvironment {
  int rank = 0;
  int size = 0;
  std::vector<Connection*> connections;  // by rank; nullptr for self
  std::vector<Transport*> transports;
  std::vector<Transport*> transportOf;  // by rank
  const std::atomic<bool>* aborted = nullptr;
  std::chrono::milliseconds timeout{0};
  std::vector<uint8_t>* scratch = nullptr;  // grown on demand, reused across operations
  SharedArena* arena = nullptr;             // set when one shared arena spans every rank
};

class OpContext {
 public:
  OpContext(OpEnvironment& env, CollectiveKind kind, uint64_t seq, DataType dtype, ReduceOp op);
  OpContext(const OpContext&) = delete;
  OpContext& operator=(const OpContext&) = delete;

  int rank() const { return env_.rank; }
  int size() const { return env_.size; }
  uint64_t seq() const { return seq_; }
  size_t elemSize() const { return elemSize_; }
  ReduceFn reducer() const { return reduce_; }
  CollectiveKind kind() const { return kind_; }

  // Sends bytes of src to peer. If after is set, src's bytes become ready as `after` (a receive)
  // fills them, so the send streams behind that receive.
  Request* send(int peer, const void* src, size_t bytes, const Request* after = nullptr,
                MsgKind kind = MsgKind::kData);
  // Receives bytes from peer into dst.
  Request* recv(int peer, void* dst, size_t bytes, MsgKind kind = MsgKind::kData);
  // Receives bytes from peer and stores dst = local (op) incoming, elementwise.
  Request* recvReduce(int peer, void* dst, const void* local, size_t bytes);

  // Waits for every request posted so far.
  Status wait();
  // Waits until `request` completes (others progress meanwhile but may still be pending).
  Status waitFor(const Request* request);
  // A gate: a stand-in for a receive whose bytes CPU work produces. Pass it as a send's `after`
  // to post the send now (keeping the per-peer order) and let it stream once openGate() says
  // the bytes are ready. Gates live as long as the operation.
  Request* gate(size_t bytes);
  static void openGate(Request* gate);

  // The shared-memory arena, when every peer is reachable through one (else nullptr).
  SharedArena* arena() const { return env_.arena; }
  // Waits until every arena member's counter c reaches value, under this operation's deadline.
  Status waitArena(int c, uint64_t value);
  // The error text for an arena member that staged data of another operation.
  std::string describeMismatch(int member) const;

  // Scratch memory valid until the operation ends (one buffer; a second call may move it).
  uint8_t* scratch(size_t bytes);

  // Overrides the sequence number stamped on later messages (point-to-point uses its own).
  void setSeq(uint64_t seq) { seq_ = seq; }
  // A check run after every progress round of wait(); a non-OK result fails the operation
  // (the collective layer compares fingerprints as soon as they arrive).
  void setCheck(std::function<Status()> check) { check_ = std::move(check); }
  // How errors name this operation: "<kind> #<number><suffix>", e.g. "allReduce #12" or
  // "send #3 to rank 2". Formatted only when an error needs it.
  void setLabel(uint64_t number, std::string suffix = {}) {
    labelNumber_ = number;
    labelSuffix_ = std::move(suffix);
  }

 private:
  Request* post(Request r);
  std::string describePending() const;
  Status annotate(const Status& s) const;
  Status progressAll(bool* progressed);
  Status waitUntil(const Request* target);  // target == nullptr: every request

  OpEnvironment& env_;
  CollectiveKind kind_;
  uint64_t seq_;
  size_t elemSize_;
  ReduceFn reduce_;
  std::deque<Request> requests_;
  std::deque<Request> gates_;
  size_t firstPending_ = 0;
  Clock::time_point start_;
  std::function<Status()> check_;
  uint64_t labelNumber_ = 0;
  std::string labelSuffix_;
  std::string label() const;
};

}  // namespace braid

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
#include "op_desc.h"
#include "reducer.h"
#include "topology.h"
#include "transport.h"

namespace braid {

class OpContext;

// The sub-groups a composed (hierarchical) algorithm runs its stages on: the ranks of this
// rank's host, or this rank's counterparts (same local rank) on every host.
enum class Group { kLocal, kCross };
// Runs one stage of a composed algorithm on a group view, with the algorithm the tuner picks
// for that group and size.
using StageRunner = std::function<Status(OpContext& group, Group which, const OpDesc& stage)>;

// The communicator-owned state an OpContext runs against.
struct OpEnvironment {
  int rank = 0;
  int size = 0;
  std::vector<Connection*> connections;  // by rank; nullptr for self
  std::vector<Transport*> transports;
  std::vector<Transport*> transportOf;  // by rank
  const std::atomic<bool>* aborted = nullptr;
  std::chrono::milliseconds timeout{0};
  std::vector<uint8_t>* scratch = nullptr;        // grown on demand, reused across operations
  SharedArena* arena = nullptr;                   // set when one shared arena spans every rank
  std::vector<uint8_t>* nestedScratch = nullptr;  // scratch of group views (see OpContext)
  const CommTopology* topology = nullptr;
  StageRunner runStage;
};

class OpContext {
 public:
  OpContext(OpEnvironment& env, CollectiveKind kind, uint64_t seq, DataType dtype, ReduceOp op);
  // A view of the running operation on a sub-group, for composed algorithms: rank(), size()
  // and every peer argument are positions in `members` (communicator ranks in group order; this
  // rank is one of them). The view shares the operation's sequence number, deadline,
  // fingerprint check and label, but waits only for its own requests (stored with the
  // operation's, so they outlive the view until the operation ends), has no arena, and takes
  // scratch from a second buffer, so the composing algorithm's scratch survives its stages.
  // parent must not itself be a view.
  OpContext(OpContext& parent, std::vector<int> members);
  OpContext(const OpContext&) = delete;
  OpContext& operator=(const OpContext&) = delete;

  int rank() const { return members_.empty() ? env_.rank : index_; }
  int size() const { return members_.empty() ? env_.size : static_cast<int>(members_.size()); }
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
  SharedArena* arena() const { return members_.empty() ? env_.arena : nullptr; }
  // Which ranks share a host (set for every communicator).
  const CommTopology& topology() const { return *env_.topology; }
  // Runs one stage of a composed algorithm on a view of this operation (see StageRunner).
  Status runStage(OpContext& group, Group which, const OpDesc& stage) const {
    return env_.runStage(group, which, stage);
  }
  // The pipeline chunk the tuner chose for this call (0 = the algorithm's own default).
  size_t chunkBytes() const { return chunkBytes_; }
  void setChunkBytes(size_t bytes) { chunkBytes_ = bytes; }
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
  int toRank(int peer) const { return members_.empty() ? peer : members_[peer]; }
  std::string describePending() const;
  Status annotate(const Status& s) const;
  Status progressAll(bool* progressed);
  Status waitUntil(const Request* target);  // target == nullptr: every request

  OpEnvironment& env_;
  CollectiveKind kind_;
  uint64_t seq_;
  size_t elemSize_;
  ReduceFn reduce_;
  std::vector<int> members_;  // empty: the whole communicator
  int index_ = 0;             // this rank's position in members_
  std::vector<uint8_t>* scratch_;
  size_t chunkBytes_ = 0;
  OpContext* owner_;                // holds the storage: this, or the operation a view is of
  std::deque<Request> storage_;     // every request of the operation and its views
  std::vector<Request*> requests_;  // this context's own, in post order
  std::deque<Request> gates_;
  size_t firstPending_ = 0;
  Clock::time_point start_;
  std::function<Status()> check_;
  uint64_t labelNumber_ = 0;
  std::string labelSuffix_;
  std::string label() const;
};

}  // namespace braid

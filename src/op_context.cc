// OpContext: request bookkeeping and the spin-then-block wait loop shared by every algorithm.
#include "op_context.h"

#include <algorithm>
#include <set>

#include "logging.h"
#include "params.h"
#include "util/spin.h"

namespace braid {

OpContext::OpContext(OpEnvironment& env, CollectiveKind kind, uint64_t seq, DataType dtype,
                     ReduceOp op)
    : env_(env),
      kind_(kind),
      seq_(seq),
      elemSize_(isValid(dtype) ? dataTypeSize(dtype) : 1),
      reduce_(isValid(dtype) && isValid(op) ? reduceFunction(dtype, op) : nullptr),
      scratch_(env.scratch),
      owner_(this),
      start_(Clock::now()),
      labelNumber_(seq) {}

OpContext::OpContext(OpContext& parent, std::vector<int> members)
    : env_(parent.env_),
      kind_(parent.kind_),
      seq_(parent.seq_),
      elemSize_(parent.elemSize_),
      reduce_(parent.reduce_),
      members_(std::move(members)),
      scratch_(parent.env_.nestedScratch),
      owner_(parent.owner_),
      start_(parent.start_),
      check_(parent.check_),
      labelNumber_(parent.labelNumber_),
      labelSuffix_(parent.labelSuffix_) {
  index_ =
      static_cast<int>(std::find(members_.begin(), members_.end(), env_.rank) - members_.begin());
}

std::string OpContext::label() const {
  return fmt::format("{} #{}{}", toString(kind_), labelNumber_, labelSuffix_);
}

Request* OpContext::post(Request r) {
  // Views keep their requests in the operation's storage: they must outlive the view, since a
  // transport may still touch them while the communicator reports a failure.
  Request* p = &owner_->storage_.emplace_back(r);
  requests_.push_back(p);
  Connection* c = env_.connections[p->peer];
  c->post(p);
  return p;
}

Request* OpContext::send(int peer, const void* src, size_t bytes, const Request* after,
                         MsgKind kind) {
  Request r;
  r.type = Request::Type::kSend;
  r.peer = toRank(peer);
  r.kind = kind;
  r.seq = seq_;
  r.bytes = bytes;
  r.src = static_cast<const uint8_t*>(src);
  r.after = after;
  return post(r);
}

Request* OpContext::recv(int peer, void* dst, size_t bytes, MsgKind kind) {
  Request r;
  r.type = Request::Type::kRecv;
  r.peer = toRank(peer);
  r.kind = kind;
  r.seq = seq_;
  r.bytes = bytes;
  r.dst = static_cast<uint8_t*>(dst);
  return post(r);
}

Request* OpContext::recvReduce(int peer, void* dst, const void* local, size_t bytes) {
  Request r;
  r.type = Request::Type::kRecv;
  r.peer = toRank(peer);
  r.kind = MsgKind::kData;
  r.seq = seq_;
  r.bytes = bytes;
  r.dst = static_cast<uint8_t*>(dst);
  r.local = static_cast<const uint8_t*>(local);
  r.reduce = reduce_;
  r.elemSize = elemSize_;
  return post(r);
}

// One non-blocking pass over every transport, then the operation's check (fingerprints).
Status OpContext::progressAll(bool* progressed) {
  for (Transport* t : env_.transports) {
    Status s = t->progress(progressed);
    if (!s.isOk()) return annotate(s);
  }
  return check_ ? check_() : Status();
}

Status OpContext::waitArena(int c, uint64_t value) {
  const Clock::time_point deadline = start_ + env_.timeout;
  for (;;) {
    // Keep messages moving meanwhile: this operation's fingerprints must reach the neighbours
    // (and theirs be checked) even while the data goes through the arena.
    bool progressed = false;
    BRAID_RETURN_IF_ERROR(progressAll(&progressed));
    Clock::time_point slice = std::min(deadline, Clock::now() + std::chrono::milliseconds(20));
    Status s = env_.arena->waitAll(c, value, slice, env_.aborted);
    if (s.isOk()) return s;
    if (s.code() == StatusCode::kTimeout && Clock::now() < deadline) continue;
    if (s.code() == StatusCode::kAborted) return abortedError(label() + " aborted");
    if (s.code() == StatusCode::kTimeout) return timeoutError(label() + " " + s.message());
    return annotate(s);
  }
}

std::string OpContext::describeMismatch(int member) const {
  return fmt::format(
      "{}: rank {} staged data of a different operation: the ranks disagree about the operation",
      label(), env_.arena->rankOf(member));
}

uint8_t* OpContext::scratch(size_t bytes) {
  if (scratch_->size() < bytes) scratch_->resize(bytes);
  return scratch_->data();
}

std::string OpContext::describePending() const {
  std::set<int> ranks;
  for (size_t i = firstPending_; i < requests_.size(); ++i) {
    if (!requests_[i]->complete) ranks.insert(requests_[i]->peer);
  }
  std::string out;
  for (int r : ranks) out += (out.empty() ? "" : ", ") + std::to_string(r);
  return out;
}

// Names the operation in errors found by a transport on this rank.
Status OpContext::annotate(const Status& s) const {
  if (s.code() != StatusCode::kRemoteError || s.message().rfind("rank ", 0) != 0 ||
      s.message().find(" reported: ") != std::string::npos) {
    return s;
  }
  return Status(s.code(), label() + ": " + s.message());
}

Request* OpContext::gate(size_t bytes) {
  Request g;
  g.type = Request::Type::kRecv;
  g.bytes = bytes;
  gates_.push_back(g);
  return &gates_.back();
}

void OpContext::openGate(Request* gate) {
  gate->done = gate->bytes;
  gate->complete = true;
}

Status OpContext::wait() { return waitUntil(nullptr); }

Status OpContext::waitFor(const Request* request) { return waitUntil(request); }

Status OpContext::waitUntil(const Request* target) {
  const Clock::time_point deadline = start_ + env_.timeout;
  const auto spinFor = std::chrono::microseconds(params().spinUs);
  const bool spinForever = params().spin;
  Clock::time_point lastProgress = Clock::now();
  int idleRounds = 0;
  for (;;) {
    bool progressed = false;
    BRAID_RETURN_IF_ERROR(progressAll(&progressed));
    while (firstPending_ < requests_.size() && requests_[firstPending_]->complete) ++firstPending_;
    bool done = true;
    if (target != nullptr) {
      done = target->complete;
    } else {
      for (size_t i = firstPending_; i < requests_.size(); ++i) {
        if (!requests_[i]->complete) {
          done = false;
          break;
        }
      }
    }
    if (done) return Status();
    if (env_.aborted->load(std::memory_order_relaxed)) {
      return abortedError(fmt::format("{} aborted", label()));
    }
    Clock::time_point now = Clock::now();
    if (progressed) {
      lastProgress = now;
      idleRounds = 0;
      continue;
    }
    if (now >= deadline) {
      return timeoutError(
          fmt::format("{} timed out after {:.1f} s waiting for rank(s) {} (BRAID_TIMEOUT)", label(),
                      std::chrono::duration<double>(env_.timeout).count(), describePending()));
    }
    if (spinForever || now - lastProgress < spinFor) {
      // Spin, but let another rank on this core run: tests put many ranks on few cores.
      spinPause(idleRounds++);
      continue;
    }
    // Block in the transports that have work queued.
    // (Stops once every transport is found: an operation may have thousands of requests queued.)
    std::vector<Transport*> waiting;
    for (size_t i = firstPending_; i < requests_.size() && waiting.size() < env_.transports.size();
         ++i) {
      const Request& r = *requests_[i];
      if (r.complete) continue;
      Transport* t = env_.transportOf[r.peer];
      if (std::find(waiting.begin(), waiting.end(), t) == waiting.end()) waiting.push_back(t);
    }
    Clock::time_point until = waiting.size() == 1
                                  ? std::min(deadline, now + std::chrono::milliseconds(100))
                                  : std::min(deadline, now + std::chrono::microseconds(200));
    for (Transport* t : waiting) {
      Status s = t->block(until);
      if (!s.isOk()) return annotate(s);
    }
    lastProgress = Clock::now();  // spin again briefly after each wake-up
  }
}

}  // namespace braid

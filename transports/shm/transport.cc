// Shared-memory transport. Each rank creates one POSIX shared-memory segment, pre-faulted once
// per communicator, holding:
//   - its RankBlock: a doorbell futex word that peers bump after giving it work, a "sleeping"
//     flag so that wakers only pay for a futex syscall when it is really asleep, and an error
//     slot that peers read to learn why this rank failed;
//   - one channel per local peer: a ring of slots this rank writes and that peer reads, with
//     head (written by the sender) and tail (written by the receiver) on separate cache lines.
// A message is cut into slot-sized fragments, each carrying a header (kind, seq, bytes, offset)
// that the receiver checks before it touches the payload. Receivers copy or reduce straight out
// of the slot into the destination, so each byte crosses memory twice: into the slot, out of it.
// Peer death is noticed through pidfds (a peer process that exited makes its pidfd readable).
#include "shm/transport.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <string>

#include "logging.h"
#include "params.h"
#include "shm/arena.h"
#include "shm/segment.h"

namespace braid {
namespace {

using namespace shm;

class ShmTransport;

class ShmConnection final : public Connection {
 public:
  ShmConnection(ShmTransport* transport, int peer, size_t peerPos)
      : transport_(transport), peer_(peer), peerPos_(peerPos) {}
  int peer() const override { return peer_; }
  void post(Request* request) override { (request->isSend() ? sends_ : recvs_).push_back(request); }
  bool busy() const override { return !sends_.empty() || !recvs_.empty(); }

  ShmTransport* transport_;
  int peer_;
  size_t peerPos_;
  pid_t pid_ = 0;
  int pidfd_ = -1;
  Segment segment_;        // the peer's segment (its outgoing channels, its RankBlock)
  uint64_t recvTail_ = 0;  // local copy of the tail of the peer → me channel
  std::deque<Request*> sends_;
  std::deque<Request*> recvs_;
};

class ShmTransport final : public Transport {
 public:
  ~ShmTransport() override {
    for (auto& c : connections_) {
      if (c == nullptr) continue;
      if (c->segment_.base != nullptr) munmap(c->segment_.base, c->segment_.bytes);
      if (c->pidfd_ >= 0) close(c->pidfd_);
    }
    if (own_.base != nullptr) munmap(own_.base, own_.bytes);
    if (!own_.name.empty() && !unlinked_) shm_unlink(own_.name.c_str());
  }

  const char* name() const override { return "shm"; }
  Connection* connection(int peer) override {
    return peer >= 0 && peer < static_cast<int>(connections_.size()) ? connections_[peer].get()
                                                                     : nullptr;
  }

  Status setup(const TransportSetup& s);
  Status progress(bool* progressed) override;
  Status block(Clock::time_point until) override;
  void wakeup() override {
    ring(own_.block());
    futexWake(&own_.block()->doorbell);
  }
  void notifyError(const std::string& reason) override;
  SharedArena* arena() override { return arena_.get(); }

 private:
  Status progressSends(ShmConnection& c, bool* progressed);
  Status progressRecvs(ShmConnection& c, bool* progressed);
  Status checkPeerErrors() const;
  Status checkPeerLiveness();
  bool actionable() const;

  int rank_ = 0;
  SegmentLayout layout_;
  size_t myPos_ = 0;
  Segment own_;
  bool unlinked_ = false;
  std::vector<std::unique_ptr<ShmConnection>> connections_;  // by global rank
  std::vector<ShmConnection*> active_;
  std::unique_ptr<ShmArena> arena_;
};

std::string segmentName(uint64_t commId, int rank) {
  return fmt::format("/braid-{:016x}-{}", commId, rank);
}

Status ShmTransport::setup(const TransportSetup& s) {
  rank_ = s.rank;
  std::vector<int> group = s.peers;
  group.push_back(s.rank);
  std::sort(group.begin(), group.end());
  layout_.groupSize = group.size();
  layout_.slots = static_cast<size_t>(std::max<int64_t>(2, params().shmSlots));
  layout_.windowBytes =
      static_cast<size_t>((std::max<int64_t>(4096, params().shmWindowBytes) + 4095) / 4096 * 4096);
  layout_.slotBytes =
      static_cast<size_t>((std::max<int64_t>(4096, params().shmSlotBytes) + 63) / 64 * 64);
  myPos_ = std::find(group.begin(), group.end(), s.rank) - group.begin();

  // Create and pre-fault this rank's segment.
  own_.name = segmentName(s.commId, s.rank);
  own_.bytes = layout_.totalBytes();
  own_.owner = true;
  shm_unlink(own_.name.c_str());  // a stale one from a crashed job with the same id
  int fd = shm_open(own_.name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) return systemError("shm_open(" + own_.name + ")");
  if (ftruncate(fd, static_cast<off_t>(own_.bytes)) != 0) {
    close(fd);
    return systemError(
        fmt::format("ftruncate({}, {} bytes) (is /dev/shm large enough?)", own_.name, own_.bytes));
  }
  void* p = mmap(nullptr, own_.bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return systemError("mmap(" + own_.name + ")");
  own_.base = static_cast<uint8_t*>(p);
  std::memset(own_.base, 0, own_.bytes);  // touches every page now, not during a collective
  BRAID_LOG(kInfo, kShm, "rank {} created {} ({} bytes: {} peers x {} slots x {} bytes)", s.rank,
            own_.name, own_.bytes, layout_.groupSize - 1, layout_.slots, layout_.slotBytes);

  std::string groupText;
  for (int r : group) groupText += std::to_string(r) + ",";
  BRAID_RETURN_IF_ERROR(
      s.store->setString(fmt::format("shm/info/{}", s.rank),
                         fmt::format("{} {} {}", getpid(), own_.bytes, groupText)));

  // Map every peer's segment.
  connections_.resize(s.size);
  for (size_t pos = 0; pos < group.size(); ++pos) {
    int peer = group[pos];
    if (peer == s.rank) continue;
    auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(s.deadline - Clock::now());
    auto info = s.store->getString(fmt::format("shm/info/{}", peer),
                                   std::max(remaining, std::chrono::milliseconds(1)));
    if (!info.isOk()) return info.status();
    long long pid = 0;
    unsigned long long bytes = 0;
    char peerGroup[4096] = {};
    if (sscanf(info->c_str(), "%lld %llu %4095s", &pid, &bytes, peerGroup) != 3 ||
        bytes != own_.bytes || peerGroup != groupText) {
      return internalError(
          fmt::format("rank {} and rank {} disagree about their shared-memory group or parameters "
                      "('{}' vs '{} {} {}'); BRAID_SHM_* must be equal on every rank",
                      peer, s.rank, *info, getpid(), own_.bytes, groupText));
    }
    auto c = std::make_unique<ShmConnection>(this, peer, pos);
    c->pid_ = static_cast<pid_t>(pid);
    if (c->pid_ != getpid()) {
      c->pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, c->pid_, 0));
      if (c->pidfd_ < 0) {
        return remoteError(fmt::format("rank {} (pid {}) is not running", peer, c->pid_));
      }
    }
    c->segment_.name = segmentName(s.commId, peer);
    c->segment_.bytes = bytes;
    int pfd = shm_open(c->segment_.name.c_str(), O_RDWR, 0600);
    if (pfd < 0)
      return systemError("shm_open(" + c->segment_.name + ") of rank " + std::to_string(peer));
    void* q = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, pfd, 0);
    close(pfd);
    if (q == MAP_FAILED) return systemError("mmap(" + c->segment_.name + ")");
    c->segment_.base = static_cast<uint8_t*>(q);
    active_.push_back(c.get());
    connections_[peer] = std::move(c);
  }

  std::vector<ArenaMember> members;
  for (int r : group) {
    ArenaMember m;
    m.rank = r;
    if (r == s.rank) {
      m.segment = &own_;
    } else {
      m.segment = &connections_[r]->segment_;
      m.pidfd = connections_[r]->pidfd_;
      m.pid = connections_[r]->pid_;
    }
    members.push_back(m);
  }
  arena_ = std::make_unique<ShmArena>(layout_, std::move(members), static_cast<int>(myPos_));

  // Once every peer has mapped our segment, unlink it so that nothing stays in /dev/shm even
  // if the job is killed.
  BRAID_RETURN_IF_ERROR(s.store->setString(fmt::format("shm/mapped/{}", s.rank), "1"));
  std::vector<std::string> keys;
  for (int peer : s.peers) keys.push_back(fmt::format("shm/mapped/{}", peer));
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(s.deadline - Clock::now());
  BRAID_RETURN_IF_ERROR(s.store->wait(keys, std::max(remaining, std::chrono::milliseconds(1))));
  shm_unlink(own_.name.c_str());
  unlinked_ = true;
  return Status();
}

Status ShmTransport::progressSends(ShmConnection& c, bool* progressed) {
  ChannelControl* ctl = own_.control(layout_, c.peerPos_);
  bool published = false;
  while (!c.sends_.empty()) {
    Request* r = c.sends_.front();
    size_t ready = r->readyBytes();
    uint64_t head = ctl->head.load(std::memory_order_relaxed);
    uint64_t tail = ctl->tail.load(std::memory_order_acquire);
    while (head - tail < layout_.slots) {
      if (r->started && r->done == r->bytes) break;
      size_t length = std::min(layout_.slotBytes, r->bytes - r->done);
      if (ready - r->done < length) break;  // wait for the bytes this send depends on
      SlotHeader* slot = own_.slot(layout_, c.peerPos_, head);
      slot->magic = kSlotMagic;
      slot->kind = static_cast<uint8_t>(r->kind);
      slot->seq = r->seq;
      slot->messageBytes = r->bytes;
      slot->offset = r->done;
      slot->length = length;
      if (length > 0) std::memcpy(slot + 1, r->src + r->done, length);
      ++head;
      ctl->head.store(head, std::memory_order_release);
      r->done += length;
      r->started = true;
      published = true;
      if (head - tail >= layout_.slots) tail = ctl->tail.load(std::memory_order_acquire);
    }
    if (r->started && r->done == r->bytes) {
      r->complete = true;
      c.sends_.pop_front();
      continue;
    }
    break;
  }
  if (published) {
    *progressed = true;
    ring(c.segment_.block());
  }
  return Status();
}

Status ShmTransport::progressRecvs(ShmConnection& c, bool* progressed) {
  ChannelControl* ctl = c.segment_.control(layout_, myPos_);
  bool consumed = false;
  uint64_t head = ctl->head.load(std::memory_order_acquire);
  while (c.recvTail_ != head && !c.recvs_.empty()) {
    Request* r = c.recvs_.front();
    const SlotHeader* slot = c.segment_.slot(layout_, myPos_, c.recvTail_);
    // Check a private copy: the header lives in memory the peer can still write.
    const SlotHeader h = *slot;
    if (h.magic != kSlotMagic || h.kind != static_cast<uint8_t>(r->kind) || h.seq != r->seq ||
        h.messageBytes != r->bytes || h.offset != r->done || h.length > r->bytes - r->done ||
        h.length > layout_.slotBytes || (r->reduce != nullptr && h.length % r->elemSize != 0)) {
      return remoteError(fmt::format(
          "rank {} sent a message ({} bytes{}) that does not match this rank's operation "
          "({} bytes): the ranks disagree about the operation",
          c.peer_, h.messageBytes, h.kind != static_cast<uint8_t>(r->kind) ? ", other kind" : "",
          r->bytes));
    }
    const size_t length = h.length;
    const uint8_t* data = reinterpret_cast<const uint8_t*>(slot + 1);
    if (length > 0) {
      if (r->reduce != nullptr) {
        r->reduce(r->dst + r->done, r->local + r->done, data, length / r->elemSize);
      } else {
        std::memcpy(r->dst + r->done, data, length);
      }
    }
    r->done += length;
    r->started = true;
    ++c.recvTail_;
    ctl->tail.store(c.recvTail_, std::memory_order_release);
    consumed = true;
    if (r->done == r->bytes) {
      r->complete = true;
      c.recvs_.pop_front();
    }
    if (c.recvTail_ == head) head = ctl->head.load(std::memory_order_acquire);
  }
  if (consumed) {
    *progressed = true;
    ring(c.segment_.block());  // the sender may be waiting for free slots
  }
  return Status();
}

Status ShmTransport::checkPeerErrors() const {
  for (const ShmConnection* c : active_) {
    BRAID_RETURN_IF_ERROR(peerReport(c->segment_.block(), c->peer_));
  }
  return Status();
}

Status ShmTransport::progress(bool* progressed) {
  for (ShmConnection* c : active_) {
    if (!c->busy()) continue;
    BRAID_RETURN_IF_ERROR(progressRecvs(*c, progressed));
    BRAID_RETURN_IF_ERROR(progressSends(*c, progressed));
  }
  return checkPeerErrors();
}

bool ShmTransport::actionable() const {
  for (const ShmConnection* c : active_) {
    if (c->segment_.block()->errorSet.load(std::memory_order_acquire) != 0) return true;
    if (!c->recvs_.empty() &&
        c->segment_.control(layout_, myPos_)->head.load(std::memory_order_acquire) !=
            c->recvTail_) {
      return true;
    }
    if (!c->sends_.empty()) {
      const ChannelControl* ctl = own_.control(layout_, c->peerPos_);
      const Request* r = c->sends_.front();
      bool space =
          ctl->head.load(std::memory_order_relaxed) - ctl->tail.load(std::memory_order_acquire) <
          layout_.slots;
      size_t want = std::min(layout_.slotBytes, r->bytes - r->done);
      if (space && r->readyBytes() - r->done >= want) return true;
    }
  }
  return false;
}

// A peer that exited after publishing everything this rank still needs is not a failure:
// drain its channel first, and report it dead only if work for it remains.
Status ShmTransport::checkPeerLiveness() {
  for (ShmConnection* c : active_) {
    if (!c->busy() || !processExited(c->pidfd_)) continue;
    bool progressed = false;
    BRAID_RETURN_IF_ERROR(progressRecvs(*c, &progressed));
    BRAID_RETURN_IF_ERROR(progressSends(*c, &progressed));
    if (c->busy()) return remoteError(fmt::format("rank {} (pid {}) died", c->peer_, c->pid_));
  }
  return Status();
}

Status ShmTransport::block(Clock::time_point until) {
  RankBlock* me = own_.block();
  me->sleeping.store(1, std::memory_order_seq_cst);
  uint32_t seen = me->doorbell.load(std::memory_order_seq_cst);
  if (!actionable()) {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(until - Clock::now()).count();
    // Sleep in slices so that a dead peer is noticed within ~100 ms.
    left = std::clamp<int64_t>(left, 0, 100'000'000);
    if (left > 0) futexWait(&me->doorbell, seen, left);
  }
  me->sleeping.store(0, std::memory_order_relaxed);
  // A peer's report explains more than the exit that may follow it.
  BRAID_RETURN_IF_ERROR(checkPeerErrors());
  return checkPeerLiveness();
}

void ShmTransport::notifyError(const std::string& reason) {
  RankBlock* me = own_.block();
  if (me->errorSet.load(std::memory_order_relaxed) == 0) {
    size_t n = std::min(reason.size(), kErrorTextBytes);
    std::memcpy(me->errorText, reason.data(), n);
    me->errorLength = static_cast<uint32_t>(n);
    me->errorSet.store(1, std::memory_order_release);
  }
  for (ShmConnection* c : active_) {
    RankBlock* b = c->segment_.block();
    b->doorbell.fetch_add(1, std::memory_order_seq_cst);
    futexWake(&b->doorbell);
  }
}

}  // namespace

Result<std::unique_ptr<Transport>> createShmTransport(const TransportSetup& setup) {
  auto t = std::make_unique<ShmTransport>();
  Status s = t->setup(setup);
  if (!s.isOk()) return s;
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace braid

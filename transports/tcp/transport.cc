// The TCP transport's progress engine: posting requests onto per-socket queues, the epoll
// loop behind progress()/block()/wakeup(), the sending state machine (writev batching of
// headers and payload, streaming of payload that another receive is still filling) and the
// error frames of notifyError(). The receiving half is in receive.cc, setup in setup.cc.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>

#include "engine.h"
#include "logging.h"

namespace braid::tcp {
namespace {

constexpr uint64_t kWakeTag = ~uint64_t{0};
constexpr int kMaxIov = 64;
constexpr int kMaxEvents = 64;
constexpr auto kErrorFrameBudget = std::chrono::milliseconds(100);

// Payload bytes of a queued frame that may be written now.
size_t readyPayload(const TxItem& item) {
  if (item.op == nullptr) return item.hdr.len;
  size_t ready = item.op->req->readyBytes();
  if (ready <= item.hdr.offset) return 0;
  return std::min<size_t>(ready - item.hdr.offset, item.hdr.len);
}

const uint8_t* payloadOf(const TxItem& item) {
  if (item.op == nullptr) return reinterpret_cast<const uint8_t*>(item.text.data());
  return item.op->req->src + item.hdr.offset;
}

}  // namespace

void AlignedFree::operator()(uint8_t* p) const { std::free(p); }

void retireFinished(std::deque<std::unique_ptr<Op>>& ops) {
  while (!ops.empty() && ops.front()->finished()) {
    Request* r = ops.front()->req;
    r->done = r->bytes;
    r->complete = true;
    ops.pop_front();
  }
}

AlignedBuffer allocateAligned(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  return AlignedBuffer(static_cast<uint8_t*>(std::aligned_alloc(64, rounded)));
}

void Peer::post(Request* request) { transport_->post(*this, request); }

TcpTransport::TcpTransport(int rank, int size, int sockets, size_t stripe, int bufferBytes)
    : rank_(rank), size_(size), sockets_(sockets), bufferBytes_(bufferBytes), stripe_(stripe) {}

TcpTransport::~TcpTransport() = default;

Status TcpTransport::init(const std::vector<int>& peers, std::vector<std::vector<net::Fd>> fds) {
  epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) return systemError("tcp transport: epoll_create1");
  event_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!event_.valid()) return systemError("tcp transport: eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, event_.get(), &ev) != 0) {
    return systemError("tcp transport: epoll_ctl(eventfd)");
  }
  byRank_.assign(static_cast<size_t>(size_), nullptr);
  for (size_t i = 0; i < peers.size(); ++i) {
    auto peer = std::make_unique<Peer>(this, peers[i]);
    for (int k = 0; k < sockets_; ++k) {
      auto s = std::make_unique<Socket>();
      s->peer = peer.get();
      s->index = k;
      s->fd = std::move(fds[i][static_cast<size_t>(k)]);
      BRAID_RETURN_IF_ERROR(net::setNonBlocking(s->fd.get()));
      BRAID_RETURN_IF_ERROR(net::setNoDelay(s->fd.get()));
      if (bufferBytes_ > 0) net::setBufferSizes(s->fd.get(), bufferBytes_);
      s->inbox = allocateAligned(kInboxBytes);
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.u64 = all_.size();
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s->fd.get(), &ev) != 0) {
        return systemError("tcp transport: epoll_ctl(socket)");
      }
      all_.push_back(s.get());
      peer->sockets.push_back(std::move(s));
    }
    byRank_[static_cast<size_t>(peers[i])] = peer.get();
    peers_.push_back(std::move(peer));
  }
  return Status::ok();
}

Connection* TcpTransport::connection(int peer) {
  if (peer < 0 || peer >= size_) return nullptr;
  return byRank_[static_cast<size_t>(peer)];
}

void TcpTransport::post(Peer& peer, Request* r) {
  r->done = 0;
  r->started = false;
  r->complete = false;
  auto op = std::make_unique<Op>(r, PieceLayout(r->bytes, sockets_, stripe_));
  const PieceLayout& layout = op->layout;
  if (r->isSend()) {
    uint64_t index = peer.sendCount++;
    for (int i = 0; i < layout.count; ++i) {
      Socket& s = *peer.sockets[static_cast<size_t>(PieceLayout::socketOf(index, i, sockets_))];
      TxItem& item = s.tx.emplace_back();
      item.hdr.kind = static_cast<uint8_t>(r->kind);
      item.hdr.seq = r->seq;
      item.hdr.msgBytes = r->bytes;
      item.hdr.offset = layout.offset(i);
      item.hdr.len = layout.len(i);
      item.op = op.get();
    }
    peer.sendOps.push_back(std::move(op));
    return;
  }
  if (r->reduce != nullptr &&
      (r->elemSize == 0 || kPieceAlign % r->elemSize != 0 || r->bytes % r->elemSize != 0)) {
    (void)fail(internalError(fmt::format(
        "tcp transport: reduce receive of {} bytes with element size {} (must divide both {} "
        "and the message size)",
        r->bytes, r->elemSize, kPieceAlign)));
  }
  uint64_t index = peer.recvCount++;
  for (int i = 0; i < layout.count; ++i) {
    Socket& s = *peer.sockets[static_cast<size_t>(PieceLayout::socketOf(index, i, sockets_))];
    s.rx.push_back(RxPiece{op.get(), i});
  }
  peer.recvOps.push_back(std::move(op));
}

Status TcpTransport::fail(Status status) {
  if (failed_.isOk()) {
    failed_ = std::move(status);
    BRAID_LOG(kInfo, kNet, "tcp transport on rank {} failed: {}", rank_, failed_.toString());
  }
  return failed_;
}

Status TcpTransport::connectionLost(const Socket& s) {
  int r = s.peer->peer();
  // A rank that fails sends its reason on socket 0 and then closes every socket; when another
  // socket's end is seen first, read what socket 0 still holds so the reason wins over "lost".
  // Sockets are not ordered with each other, so the reason may still be on its way: read each
  // other socket up to its end, for kReasonWait at most (a dead peer's sockets end at once).
  constexpr auto kReasonWait = std::chrono::milliseconds(200);
  if (failed_.isOk() && !drainingForReason_) {
    drainingForReason_ = true;
    const auto until = std::chrono::steady_clock::now() + kReasonWait;
    for (auto& other : s.peer->sockets) {
      if (other.get() == &s) continue;
      while (!other->eof && failed_.isOk()) {
        other->readable = true;
        bool progressed = false;
        Status ignored = serviceRx(*other, &progressed);
        (void)ignored;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (other->eof || !failed_.isOk() || left.count() <= 0) break;
        pollfd p{other->fd.get(), POLLIN | POLLRDHUP, 0};
        (void)poll(&p, 1, static_cast<int>(left.count()));
      }
      if (!failed_.isOk()) break;
    }
    drainingForReason_ = false;
    if (!failed_.isOk()) return failed_;
  }
  return fail(remoteError(
      fmt::format("connection to rank {} lost (rank {} died or closed its communicator)", r, r)));
}

Status TcpTransport::checkClosed(Socket& s) {
  if (!s.eof) return Status::ok();
  if (!s.rx.empty() || !s.tx.empty() || s.midFrame()) return connectionLost(s);
  return Status::ok();
}

Status TcpTransport::closeSocket(Socket& s, const char* why) {
  if (!s.eof) {
    BRAID_LOG(kInfo, kNet, "tcp socket {} to rank {} closed: {}", s.index, s.peer->peer(), why);
    s.eof = true;
    s.readable = false;
    s.writable = false;
  }
  return checkClosed(s);
}

int TcpTransport::pollEvents(int timeoutMs) {
  epoll_event events[kMaxEvents];
  int n = epoll_wait(epoll_.get(), events, kMaxEvents, timeoutMs);
  int sockets = 0;
  for (int i = 0; i < n; ++i) {
    uint64_t tag = events[i].data.u64;
    uint32_t e = events[i].events;
    if (tag == kWakeTag) {
      uint64_t count = 0;
      while (read(event_.get(), &count, sizeof(count)) > 0) {
      }
      woken_ = true;
      continue;
    }
    Socket& s = *all_[tag];
    if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) s.hangup = true;
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) s.readable = !s.eof;
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) s.writable = !s.eof;
    ++sockets;
  }
  return sockets;
}

Status TcpTransport::progress(bool* progressed) {
  if (!failed_.isOk()) return failed_;
  pollEvents(0);
  for (Socket* s : all_) BRAID_RETURN_IF_ERROR(serviceRx(*s, progressed));
  for (Socket* s : all_) BRAID_RETURN_IF_ERROR(serviceTx(*s, progressed));
  for (Socket* s : all_) BRAID_RETURN_IF_ERROR(checkClosed(*s));
  return failed_;
}

Status TcpTransport::block(Clock::time_point until) {
  // Work that needs no event (a post since the last progress) must not wait for one.
  bool progressed = false;
  BRAID_RETURN_IF_ERROR(progress(&progressed));
  if (progressed || woken_) {
    woken_ = false;
    return Status::ok();
  }
  int timeoutMs = 0;
  auto now = Clock::now();
  if (until > now) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(until - now).count();
    timeoutMs = static_cast<int>(std::clamp<int64_t>((us + 999) / 1000, 1, INT_MAX));
  }
  int events = pollEvents(timeoutMs);
  woken_ = false;
  // Something happened on a socket: move it now (this also finds dead peers).
  if (events > 0) return progress(&progressed);
  return failed_;
}

void TcpTransport::wakeup() {
  uint64_t one = 1;
  ssize_t n = write(event_.get(), &one, sizeof(one));
  (void)n;  // EAGAIN: the counter is already non-zero, which is all a wakeup needs
}

Status TcpTransport::serviceTx(Socket& s, bool* progressed) {
  while (s.writable && !s.tx.empty() && !s.txStopped) {
    iovec iov[kMaxIov];
    int n = 0;
    size_t asked = 0;
    for (const TxItem& item : s.tx) {
      if (n + 2 > kMaxIov) break;
      size_t ready = readyPayload(item);
      // A frame starts only with payload to go with it, so that a stalled source never
      // leaves a lone header in the stream.
      if (item.sent == 0 && ready == 0 && item.hdr.len > 0) break;
      if (item.sent < kHeaderBytes) {
        iov[n].iov_base =
            reinterpret_cast<uint8_t*>(const_cast<FrameHeader*>(&item.hdr)) + item.sent;
        iov[n].iov_len = kHeaderBytes - item.sent;
        asked += iov[n].iov_len;
        ++n;
      }
      size_t paid = item.sent > kHeaderBytes ? item.sent - kHeaderBytes : 0;
      if (ready > paid) {
        iov[n].iov_base = const_cast<uint8_t*>(payloadOf(item)) + paid;
        iov[n].iov_len = ready - paid;
        asked += iov[n].iov_len;
        ++n;
      }
      if (ready < item.hdr.len) break;
      if (item.op == nullptr) break;  // nothing follows an error frame
    }
    if (n == 0) break;
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    ssize_t w = sendmsg(s.fd.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        s.writable = false;
        break;
      }
      if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN || errno == ETIMEDOUT) {
        return closeSocket(s, "send failed");
      }
      return fail(systemError(fmt::format("tcp send to rank {}", s.peer->peer())));
    }
    *progressed = true;
    // A short write filled the socket buffer; epoll reports when it drains.
    if (static_cast<size_t>(w) < asked) s.writable = false;
    advanceTx(s, static_cast<size_t>(w));
  }
  return Status::ok();
}

void TcpTransport::advanceTx(Socket& s, size_t written) {
  while (written > 0 && !s.tx.empty()) {
    TxItem& item = s.tx.front();
    size_t total = kHeaderBytes + item.hdr.len;
    size_t take = std::min(written, total - item.sent);
    size_t before = item.sent > kHeaderBytes ? item.sent - kHeaderBytes : 0;
    item.sent += take;
    written -= take;
    if (item.op != nullptr) {
      size_t after = item.sent > kHeaderBytes ? item.sent - kHeaderBytes : 0;
      Request* r = item.op->req;
      r->started = true;
      r->done += after - before;
    }
    if (item.sent < total) break;
    if (item.op == nullptr) {
      s.txStopped = true;
      s.tx.pop_front();
      break;
    }
    Op* op = item.op;
    s.tx.pop_front();
    if (++op->piecesDone == op->layout.count) retireFinished(s.peer->sendOps);
  }
}

void TcpTransport::notifyError(const std::string& reason) {
  if (errorSent_) return;
  errorSent_ = true;
  std::string text = reason.substr(0, kMaxErrorText);
  std::vector<Socket*> pending;
  for (auto& peer : peers_) {
    Socket& s = *peer->sockets[0];
    if (s.eof || s.txStopped) continue;
    // Ahead of every frame not yet started; a frame partly written must finish first.
    auto at = s.tx.begin();
    if (at != s.tx.end() && at->sent > 0) ++at;
    TxItem item;
    item.hdr.kind = static_cast<uint8_t>(FrameKind::kError);
    item.hdr.msgBytes = text.size();
    item.hdr.len = text.size();
    item.text = text;
    s.tx.insert(at, std::move(item));
    pending.push_back(&s);
  }
  auto deadline = Clock::now() + kErrorFrameBudget;
  while (!pending.empty()) {
    bool moved = false;
    for (size_t i = 0; i < pending.size();) {
      Socket& s = *pending[i];
      s.writable = true;
      Status st = serviceTx(s, &moved);
      (void)st;
      if (s.txStopped || s.eof) {
        pending[i] = pending.back();
        pending.pop_back();
      } else {
        ++i;
      }
    }
    if (pending.empty() || Clock::now() >= deadline) break;
    if (!moved) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  for (Socket* s : pending) {
    BRAID_LOG(kInfo, kNet, "could not tell rank {} about the error in time", s->peer->peer());
  }
  (void)fail(abortedError("communicator failed on this rank: " + reason));
}

}  // namespace braid::tcp

// The receiving half of the TCP transport: a per-socket state machine that reads frame
// headers (even when no receive is posted, so that error frames are seen promptly), checks
// each against the piece the socket expects, and lands payload straight in the destination
// buffer or, for reduce receives, in an aligned bounce buffer combined into dst element-wise.
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine.h"
#include "logging.h"

namespace braid::tcp {

Status TcpTransport::readInto(Socket& s, iovec* iov, int count, size_t* got) {
  *got = 0;
  for (;;) {
    ssize_t n = readv(s.fd.get(), iov, count);
    if (n > 0) {
      *got = static_cast<size_t>(n);
      // A short read drained the socket; edge-triggered epoll reports the next arrival. After
      // a hangup no further edge comes, so keep reading until EOF.
      size_t asked = 0;
      for (int i = 0; i < count; ++i) asked += iov[i].iov_len;
      if (*got < asked && !s.hangup) s.readable = false;
      return Status::ok();
    }
    if (n == 0) return closeSocket(s, "closed by peer");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      s.readable = false;
      return Status::ok();
    }
    if (errno == ECONNRESET || errno == ETIMEDOUT || errno == ENOTCONN || errno == EPIPE) {
      return closeSocket(s, "connection reset");
    }
    return fail(systemError(fmt::format("tcp receive from rank {}", s.peer->peer())));
  }
}

Status TcpTransport::serviceRx(Socket& s, bool* progressed) {
  size_t budget = kReadBudget;
  for (;;) {
    if (s.eof) return Status::ok();
    bool again = false;
    switch (s.state) {
      case RxState::kHeader:
        BRAID_RETURN_IF_ERROR(rxHeader(s, &again, &budget));
        break;
      case RxState::kPayload:
        if (s.rx.front().op->req->reduce != nullptr) {
          BRAID_RETURN_IF_ERROR(rxReducePayload(s, &again, &budget));
        } else {
          BRAID_RETURN_IF_ERROR(rxPayload(s, &again, &budget));
        }
        break;
      case RxState::kErrorText:
        BRAID_RETURN_IF_ERROR(rxErrorText(s, &again, &budget));
        break;
    }
    if (!again) return Status::ok();
    *progressed = true;
  }
}

Status TcpTransport::rxHeader(Socket& s, bool* again, size_t* budget) {
  if (s.hdrHave < kHeaderBytes) {
    auto* hdr = reinterpret_cast<uint8_t*>(&s.hdr);
    if (s.inboxAvail() > 0) {
      size_t take = std::min(s.inboxAvail(), kHeaderBytes - s.hdrHave);
      std::memcpy(hdr + s.hdrHave, s.inbox.get() + s.inHead, take);
      s.inHead += take;
      s.hdrHave += take;
    } else {
      if (!s.readable || *budget == 0) return Status::ok();
      // Before a large expected piece read the header alone, so that its payload can go
      // straight to dst; otherwise read a batch of small frames at once.
      size_t want = kInboxBytes;
      if (!s.rx.empty() && s.rx.front().len() >= kDirectBytes) want = kHeaderBytes - s.hdrHave;
      iovec iov{s.inbox.get(), want};
      size_t got = 0;
      BRAID_RETURN_IF_ERROR(readInto(s, &iov, 1, &got));
      if (got == 0) return Status::ok();
      *budget -= std::min(*budget, got);
      s.inHead = 0;
      s.inTail = got;
      *again = true;
      return Status::ok();
    }
    if (s.hdrHave < kHeaderBytes) {
      *again = true;
      return Status::ok();
    }
  }
  // A whole header: match it (stays pending while no receive is posted for this socket).
  RxState before = s.state;
  BRAID_RETURN_IF_ERROR(acceptHeader(s));
  *again = s.state != before || s.hdrHave == 0;
  return Status::ok();
}

Status TcpTransport::acceptHeader(Socket& s) {
  const FrameHeader& h = s.hdr;
  int from = s.peer->peer();
  if (h.magic != kFrameMagic || h.kind < 1 || h.kind > 3) {
    return fail(remoteError(fmt::format(
        "rank {} sent a corrupt frame on TCP socket {} (magic 0x{:x}, kind {}); protocol error",
        from, s.index, h.magic, h.kind)));
  }
  if (h.len > h.msgBytes || h.offset > h.msgBytes - h.len) {
    return fail(remoteError(fmt::format(
        "rank {} sent a corrupt frame: {} bytes at offset {} of a {}-byte message; protocol error",
        from, h.len, h.offset, h.msgBytes)));
  }
  if (h.kind == static_cast<uint8_t>(FrameKind::kError)) {
    if (h.len > kMaxErrorText) {
      return fail(remoteError(
          fmt::format("rank {} sent an error frame of {} bytes (limit {}); protocol error", from,
                      h.len, kMaxErrorText)));
    }
    s.state = RxState::kErrorText;
    s.pos = 0;
    s.errText.clear();
    return Status::ok();
  }
  if (s.rx.empty()) return Status::ok();  // pending until a receive is posted

  const RxPiece& piece = s.rx.front();
  Request& r = *piece.op->req;
  if (h.kind != static_cast<uint8_t>(r.kind) || h.seq != r.seq || h.msgBytes != r.bytes ||
      h.offset != piece.offset() || h.len != piece.len()) {
    std::string detail;
    if (h.kind == static_cast<uint8_t>(r.kind) && h.seq == r.seq && h.msgBytes == r.bytes) {
      detail = fmt::format(
          " (piece at offset {} of {} bytes, expected offset {} of {} bytes: BRAID_TCP_SOCKETS "
          "and BRAID_TCP_STRIPE_BYTES must be equal on every rank)",
          h.offset, h.len, piece.offset(), piece.len());
    }
    return fail(remoteError(fmt::format(
        "rank {} sent {} #{} of {} bytes but this rank expects {} #{} of {} bytes; the ranks "
        "disagree about the operation{}",
        from, frameKindName(h.kind), h.seq, h.msgBytes, frameKindName(static_cast<uint8_t>(r.kind)),
        r.seq, r.bytes, detail)));
  }
  r.started = true;
  s.state = RxState::kPayload;
  s.pos = 0;
  s.bounceFill = 0;
  if (h.len == 0) {
    recordProgress(*piece.op, piece.index, 0);
    finishRxPiece(s);
  }
  return Status::ok();
}

Status TcpTransport::rxPayload(Socket& s, bool* again, size_t* budget) {
  const RxPiece piece = s.rx.front();
  Request& r = *piece.op->req;
  size_t len = piece.len();
  uint8_t* dst = r.dst + piece.offset();
  if (s.inboxAvail() > 0) {
    size_t take = std::min(s.inboxAvail(), len - s.pos);
    std::memcpy(dst + s.pos, s.inbox.get() + s.inHead, take);
    s.inHead += take;
    s.pos += take;
  } else {
    if (!s.readable || *budget == 0) return Status::ok();
    // The payload lands in dst; whatever follows it (next headers) in the inbox.
    iovec iov[2] = {{dst + s.pos, len - s.pos}, {s.inbox.get(), kTailBytes}};
    size_t got = 0;
    BRAID_RETURN_IF_ERROR(readInto(s, iov, 2, &got));
    if (got == 0) return Status::ok();
    *budget -= std::min(*budget, got);
    size_t mine = std::min(got, len - s.pos);
    s.pos += mine;
    s.inHead = 0;
    s.inTail = got - mine;
  }
  *again = true;
  recordProgress(*piece.op, piece.index, s.pos);
  if (s.pos == len) finishRxPiece(s);
  return Status::ok();
}

Status TcpTransport::rxReducePayload(Socket& s, bool* again, size_t* budget) {
  const RxPiece piece = s.rx.front();
  Request& r = *piece.op->req;
  size_t len = piece.len();
  size_t es = r.elemSize;
  if (!s.bounce) s.bounce = allocateAligned(kBounceBytes);
  // bounce holds [0, bounceFill): a partial element left from the last read, then new bytes.
  size_t want = std::min(len - s.pos - s.bounceFill, kBounceBytes - s.bounceFill);
  if (s.inboxAvail() > 0) {
    size_t take = std::min(s.inboxAvail(), want);
    std::memcpy(s.bounce.get() + s.bounceFill, s.inbox.get() + s.inHead, take);
    s.inHead += take;
    s.bounceFill += take;
  } else {
    if (!s.readable || *budget == 0) return Status::ok();
    iovec iov[2] = {{s.bounce.get() + s.bounceFill, want}, {s.inbox.get(), kTailBytes}};
    size_t got = 0;
    BRAID_RETURN_IF_ERROR(readInto(s, iov, 2, &got));
    if (got == 0) return Status::ok();
    *budget -= std::min(*budget, got);
    size_t mine = std::min(got, want);
    s.bounceFill += mine;
    s.inHead = 0;
    s.inTail = got - mine;
  }
  *again = true;
  size_t whole = s.bounceFill / es * es;
  if (whole > 0) {
    size_t at = piece.offset() + s.pos;
    const uint8_t* local = r.local != nullptr ? r.local : r.dst;
    r.reduce(r.dst + at, local + at, s.bounce.get(), whole / es);
    s.pos += whole;
    size_t left = s.bounceFill - whole;
    if (left > 0) std::memmove(s.bounce.get(), s.bounce.get() + whole, left);
    s.bounceFill = left;
    recordProgress(*piece.op, piece.index, s.pos);
  }
  if (s.pos == len) finishRxPiece(s);
  return Status::ok();
}

Status TcpTransport::rxErrorText(Socket& s, bool* again, size_t* budget) {
  size_t len = s.hdr.len;
  if (s.errText.size() < len) {
    if (s.inboxAvail() > 0) {
      size_t take = std::min(s.inboxAvail(), len - s.errText.size());
      s.errText.append(reinterpret_cast<const char*>(s.inbox.get() + s.inHead), take);
      s.inHead += take;
    } else {
      if (!s.readable || *budget == 0) return Status::ok();
      iovec iov{s.inbox.get(), len - s.errText.size()};
      size_t got = 0;
      BRAID_RETURN_IF_ERROR(readInto(s, &iov, 1, &got));
      if (got == 0) return Status::ok();
      s.inHead = 0;
      s.inTail = got;
    }
    *again = true;
  }
  if (s.errText.size() < len) return Status::ok();
  int from = s.peer->peer();
  return fail(remoteError(fmt::format("rank {} reported: {}", from, s.errText)));
}

void TcpTransport::recordProgress(Op& op, int piece, size_t bytes) {
  op.progress[static_cast<size_t>(piece)] = bytes;
  if (piece != op.firstOpen) return;  // dst's final prefix ends before this piece
  const PieceLayout& l = op.layout;
  while (op.firstOpen < l.count &&
         op.progress[static_cast<size_t>(op.firstOpen)] == l.len(op.firstOpen)) {
    ++op.firstOpen;
  }
  op.req->done = op.firstOpen == l.count
                     ? l.bytes
                     : l.offset(op.firstOpen) + op.progress[static_cast<size_t>(op.firstOpen)];
}

void TcpTransport::finishRxPiece(Socket& s) {
  Op* op = s.rx.front().op;
  s.rx.pop_front();
  s.state = RxState::kHeader;
  s.hdrHave = 0;
  s.pos = 0;
  s.bounceFill = 0;
  if (++op->piecesDone == op->layout.count) retireFinished(s.peer->recvOps);
}

}  // namespace braid::tcp

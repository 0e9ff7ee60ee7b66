// Internals of the TCP transport shared by its source files: the per-socket send and receive
// state machines, the per-peer connection, and the epoll-driven progress engine.
//
// Threading: everything here runs on the communicator's progress thread, except wakeup().
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "frame.h"
#include "tcp/transport.h"
#include "util/socket.h"

namespace braid::tcp {

inline constexpr size_t kInboxBytes = 64 << 10;    // small-frame batching buffer per socket
inline constexpr size_t kTailBytes = 4 << 10;      // read past a large payload into the inbox
inline constexpr size_t kDirectBytes = 16 << 10;   // pieces this large are read straight to dst
inline constexpr size_t kBounceBytes = 256 << 10;  // reduce receive staging per socket
inline constexpr size_t kReadBudget = 8 << 20;     // bytes one socket may read per progress()

// One posted request and how far each of its pieces got.
struct Op {
  Op(Request* r, const PieceLayout& l) : req(r), layout(l) {}
  Request* req;
  PieceLayout layout;
  int piecesDone = 0;
  int firstOpen = 0;                           // recv: first piece not yet complete in dst
  std::array<size_t, kMaxSockets> progress{};  // recv: bytes of each piece final in dst
  bool finished() const { return piecesDone == layout.count; }
};

// A frame queued for sending on one socket: a piece of a send, or an error frame.
struct TxItem {
  FrameHeader hdr;
  Op* op = nullptr;  // nullptr: an error frame whose payload is `text`
  std::string text;
  size_t sent = 0;  // header + payload bytes written so far
};

// A piece this socket expects to receive next (in order).
struct RxPiece {
  Op* op;
  int index;
  size_t offset() const { return op->layout.offset(index); }
  size_t len() const { return op->layout.len(index); }
};

enum class RxState : uint8_t { kHeader, kPayload, kErrorText };

// 64-byte aligned heap buffer (reduce kernels want aligned element runs).
struct AlignedFree {
  void operator()(uint8_t* p) const;
};
using AlignedBuffer = std::unique_ptr<uint8_t[], AlignedFree>;
AlignedBuffer allocateAligned(size_t bytes);

// Marks the finished requests at the front of one direction complete, in post order.
void retireFinished(std::deque<std::unique_ptr<Op>>& ops);

class Peer;

struct Socket {
  Peer* peer = nullptr;
  int index = 0;  // within the peer
  net::Fd fd;
  bool readable = true;    // may have data (cleared by EAGAIN or a short read, set by epoll)
  bool writable = true;    // may take data (cleared by EAGAIN or a short write, set by epoll)
  bool eof = false;        // closed by the peer or failed; no more I/O
  bool hangup = false;     // epoll saw RDHUP/HUP/ERR: read on until EOF, even after short reads
  bool txStopped = false;  // an error frame went out: nothing follows it

  std::deque<TxItem> tx;
  std::deque<RxPiece> rx;

  // Receive state. `inbox` holds bytes read past the current frame (the next headers and
  // small payloads) so that one read can carry several small frames.
  RxState state = RxState::kHeader;
  FrameHeader hdr;
  size_t hdrHave = 0;
  size_t pos = 0;  // payload bytes of the current frame consumed (written / reduced into dst)
  AlignedBuffer inbox;
  size_t inHead = 0;
  size_t inTail = 0;
  AlignedBuffer bounce;  // reduce receives: incoming bytes before they are combined into dst
  size_t bounceFill = 0;
  std::string errText;

  size_t inboxAvail() const { return inTail - inHead; }
  bool midFrame() const {
    return state != RxState::kHeader || (hdrHave > 0 && hdrHave < kHeaderBytes) || inboxAvail() > 0;
  }
};

class TcpTransport;

// One peer: its sockets and its requests in post order per direction.
class Peer : public Connection {
 public:
  Peer(TcpTransport* transport, int rank) : transport_(transport), rank_(rank) {}
  int peer() const override { return rank_; }
  void post(Request* request) override;
  bool busy() const override { return !sendOps.empty() || !recvOps.empty(); }

  std::vector<std::unique_ptr<Socket>> sockets;
  uint64_t sendCount = 0;  // messages posted per direction: their index picks the sockets
  uint64_t recvCount = 0;
  std::deque<std::unique_ptr<Op>> sendOps;
  std::deque<std::unique_ptr<Op>> recvOps;

 private:
  TcpTransport* transport_;
  int rank_;
};

class TcpTransport : public Transport {
 public:
  // bufferBytes: SO_SNDBUF / SO_RCVBUF of every socket (0 = the kernel's autotuning).
  TcpTransport(int rank, int size, int sockets, size_t stripe, int bufferBytes);
  ~TcpTransport() override;

  // Takes the connected sockets: fds[i] are the `sockets` sockets to peers[i].
  Status init(const std::vector<int>& peers, std::vector<std::vector<net::Fd>> fds);

  const char* name() const override { return "tcp"; }
  Connection* connection(int peer) override;
  Status progress(bool* progressed) override;
  Status block(Clock::time_point until) override;
  void wakeup() override;
  void notifyError(const std::string& reason) override;

  void post(Peer& peer, Request* request);

 private:
  // Harvests epoll events into the sockets' readable/writable flags; returns how many
  // socket events there were (a wakeup drains the eventfd and sets woken_ instead).
  int pollEvents(int timeoutMs);
  Status serviceTx(Socket& s, bool* progressed);
  void advanceTx(Socket& s, size_t written);
  Status serviceRx(Socket& s, bool* progressed);
  // Reads into iov; *got = 0 when nothing came (EAGAIN clears readable, EOF marks the socket).
  Status readInto(Socket& s, iovec* iov, int count, size_t* got);
  Status acceptHeader(Socket& s);
  // Each moves the current frame along; *again says whether to keep going.
  Status rxHeader(Socket& s, bool* again, size_t* budget);
  Status rxPayload(Socket& s, bool* again, size_t* budget);
  Status rxReducePayload(Socket& s, bool* again, size_t* budget);
  Status rxErrorText(Socket& s, bool* again, size_t* budget);
  void recordProgress(Op& op, int piece, size_t bytes);
  void finishRxPiece(Socket& s);
  // The socket is dead (EOF, reset): fails if anything is queued on it.
  Status closeSocket(Socket& s, const char* why);
  Status checkClosed(Socket& s);
  Status connectionLost(const Socket& s);
  Status fail(Status status);

  int rank_;
  int size_;
  int sockets_;
  int bufferBytes_;
  bool drainingForReason_ = false;  // connectionLost is looking for a peer's error frame
  size_t stripe_;
  std::vector<std::unique_ptr<Peer>> peers_;
  std::vector<Peer*> byRank_;
  std::vector<Socket*> all_;  // every socket, indexed by its epoll tag
  net::Fd epoll_;
  net::Fd event_;
  Status failed_;
  bool errorSent_ = false;
  bool woken_ = false;  // a wakeup() was seen that no block() has returned for yet
};

}  // namespace braid::tcp

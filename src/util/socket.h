// Small POSIX socket helpers shared by the TCP store and the TCP transport: listening,
// dialing with retries, whole-buffer I/O with deadlines, and the job-token handshake that keeps
// strangers out of a job.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "braid/status.h"

namespace braid::net {

using Deadline = std::chrono::steady_clock::time_point;

// An owned file descriptor (closed on destruction).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// "host:port" → host, port. IPv4 names or literals; "[v6]:port" for IPv6.
Status parseHostPort(const std::string& text, std::string* host, uint16_t* port);

// A TCP listening socket on host:port (port 0 = ephemeral; host "" or "0.0.0.0" = any).
Result<Fd> listenTcp(const std::string& host, uint16_t port, int backlog = 128);
// The port a bound socket got.
Result<uint16_t> localPort(int fd);
// The local IP address of a connected socket, as text (which address a peer can reach us at).
Result<std::string> localAddress(int fd);
// The peer's "ip:port" for logs.
std::string peerName(int fd);

// Dials host:port, retrying refused/unreachable attempts until deadline. Sets TCP_NODELAY.
Result<Fd> connectTcp(const std::string& host, uint16_t port, Deadline deadline);
// Accepts one connection, waiting until deadline (kTimeout). Sets TCP_NODELAY.
Result<Fd> acceptTcp(int listenFd, Deadline deadline);

// Blocking whole-buffer I/O on a (blocking or non-blocking) socket, bounded by deadline.
// readFull returns kRemoteError on EOF ("connection closed by peer").
Status writeFull(int fd, const void* data, size_t bytes, Deadline deadline);
Status readFull(int fd, void* data, size_t bytes, Deadline deadline);

Status setNonBlocking(int fd);
Status setNoDelay(int fd);
// Sets SO_SNDBUF / SO_RCVBUF (best effort).
void setBufferSizes(int fd, int bytes);

// The handshake every braid TCP connection starts with. The dialer sends
// {magic, token, purpose, a, b}; the acceptor checks magic and token and replies with an ack.
// A mismatched token is refused: the acceptor logs a WARN naming the peer address and closes.
struct Hello {
  uint64_t purpose = 0;  // what the connection is for (store, transport of communicator X, ...)
  uint64_t a = 0;        // purpose-specific (e.g. the dialing rank)
  uint64_t b = 0;        // purpose-specific (e.g. socket index)
};
Status sendHello(int fd, uint64_t token, const Hello& hello, Deadline deadline);
// Reads the dialer's hello. kRemoteError (and nothing else happens) if token or magic differ.
Result<Hello> receiveHello(int fd, uint64_t token, Deadline deadline);

// Random 64-bit value from the OS (for tokens and ids).
uint64_t randomU64();

}  // namespace braid::net

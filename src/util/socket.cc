// POSIX socket helpers: listening, dialing with retries, whole-buffer I/O bounded by deadlines
// (for blocking and non-blocking fds alike), and the job-token handshake. Shared by the TCP
// store and the TCP transport so that both report failures the same way.
#include "util/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <random>
#include <thread>

#include "logging.h"

namespace braid::net {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kHelloMagic = 0x62726169644c4f21ull;  // "braidLO!"

// Milliseconds until deadline for poll(): rounded up, clamped to [0, INT_MAX].
int pollTimeoutMs(Deadline deadline) {
  auto now = Clock::now();
  if (deadline <= now) return 0;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return static_cast<int>(std::min<int64_t>(left, INT_MAX));
}

// Waits until fd is ready for events or deadline passes. Returns false on timeout.
Result<bool> waitReady(int fd, short events, Deadline deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int timeoutMs = pollTimeoutMs(deadline);
    int rc = ::poll(&p, 1, timeoutMs);
    if (rc > 0) return true;
    if (rc < 0) {
      if (errno == EINTR) continue;
      return systemError("poll");
    }
    if (Clock::now() >= deadline) return false;
  }
}

std::string formatAddress(const sockaddr_storage& ss, bool withPort) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    if (!withPort) return buf;
    return std::string(buf) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    if (!withPort) return buf;
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "<unknown address family>";
}

std::string hostPortText(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

// Owns a getaddrinfo() result.
struct AddrInfoList {
  addrinfo* head = nullptr;
  AddrInfoList() = default;
  AddrInfoList(const AddrInfoList&) = delete;
  AddrInfoList& operator=(const AddrInfoList&) = delete;
  ~AddrInfoList() {
    if (head) freeaddrinfo(head);
  }
};

// Resolves host:port. Returns the getaddrinfo error code (0 on success).
int resolve(const std::string& host, uint16_t port, bool passive, AddrInfoList* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  std::string service = std::to_string(port);
  return getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &out->head);
}

// Errors after which dialing again may succeed (the listener is not up yet, a route flapped).
bool isRetryableConnectError(int err) {
  switch (err) {
    case ECONNREFUSED:
    case ENOENT:
    case ETIMEDOUT:
    case ECONNRESET:
    case ECONNABORTED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EAGAIN:
    case EADDRNOTAVAIL:
      return true;
    default:
      return false;
  }
}

// True if a loopback dial connected the socket to itself (TCP simultaneous open onto our own
// ephemeral port), which happens when retrying a local port that nobody listens on.
bool isSelfConnected(int fd) {
  sockaddr_storage local{}, peer{};
  socklen_t localLen = sizeof(local), peerLen = sizeof(peer);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &localLen) != 0) return false;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peerLen) != 0) return false;
  return localLen == peerLen && std::memcmp(&local, &peer, localLen) == 0;
}

// One non-blocking connect attempt to addr. On failure returns -1 with *err set.
int connectOnce(const addrinfo* ai, Deadline deadline, int* err) {
  Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
  if (!fd.valid()) {
    *err = errno;
    return -1;
  }
  if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) {
      *err = errno;
      return -1;
    }
    Result<bool> ready = waitReady(fd.get(), POLLOUT, deadline);
    if (!ready.isOk()) {
      *err = EIO;
      return -1;
    }
    if (!ready.value()) {
      *err = ETIMEDOUT;
      return -1;
    }
    int soErr = 0;
    socklen_t len = sizeof(soErr);
    if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soErr, &len) != 0) {
      *err = errno;
      return -1;
    }
    if (soErr != 0) {
      *err = soErr;
      return -1;
    }
  }
  if (isSelfConnected(fd.get())) {
    *err = ECONNREFUSED;
    return -1;
  }
  // Hand back a blocking socket; the I/O helpers do not depend on the mode.
  int flags = fcntl(fd.get(), F_GETFL, 0);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    *err = errno;
    return -1;
  }
  return fd.release();
}

bool isDisconnectError(int err) {
  return err == ECONNRESET || err == EPIPE || err == ENOTCONN || err == ECONNABORTED ||
         err == ETIMEDOUT || err == EHOSTUNREACH || err == ENETUNREACH;
}

Status closedByPeer(int fd) { return remoteError("connection closed by peer " + peerName(fd)); }

}  // namespace

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status parseHostPort(const std::string& text, std::string* host, uint16_t* port) {
  std::string h, p;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return invalidArgument("malformed address '" + text + "': expected [ipv6]:port");
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
      return invalidArgument("malformed address '" + text + "': expected host:port");
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.find(':') != std::string::npos) {
      return invalidArgument("malformed address '" + text + "': write IPv6 as [addr]:port");
    }
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || value > 65535) {
    return invalidArgument("malformed port in address '" + text + "'");
  }
  *host = h;
  *port = static_cast<uint16_t>(value);
  return Status::ok();
}

Result<Fd> listenTcp(const std::string& host, uint16_t port, int backlog) {
  std::string where = hostPortText(host.empty() ? "0.0.0.0" : host, port);
  sockaddr_storage addr{};
  socklen_t addrLen = 0;
  if (host.empty() || host == "0.0.0.0") {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    in->sin_port = htons(port);
    addrLen = sizeof(sockaddr_in);
  } else {
    AddrInfoList list;
    int rc = resolve(host, port, /*passive=*/true, &list);
    if (rc != 0 || list.head == nullptr) {
      return invalidArgument("cannot resolve listen address '" + host + "': " + gai_strerror(rc));
    }
    std::memcpy(&addr, list.head->ai_addr, list.head->ai_addrlen);
    addrLen = list.head->ai_addrlen;
  }
  Fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return systemError("socket() for listening on " + where);
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), addrLen) != 0) {
    return systemError("bind " + where);
  }
  if (::listen(fd.get(), backlog) != 0) return systemError("listen " + where);
  return fd;
}

Result<uint16_t> localPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return systemError("getsockname");
  }
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return invalidArgument("localPort: not an IP socket");
}

Result<std::string> localAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return systemError("getsockname");
  }
  if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
    return invalidArgument("localAddress: not an IP socket");
  }
  return formatAddress(ss, /*withPort=*/false);
}

std::string peerName(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "<unknown peer>";
  return formatAddress(ss, /*withPort=*/true);
}

Result<Fd> connectTcp(const std::string& host, uint16_t port, Deadline deadline) {
  const std::string where = hostPortText(host, port);
  auto backoff = std::chrono::milliseconds(10);
  constexpr auto kMaxBackoff = std::chrono::milliseconds(200);
  std::string lastError = "no attempt made";
  while (true) {
    AddrInfoList list;
    int rc = resolve(host, port, /*passive=*/false, &list);
    if (rc == 0) {
      for (const addrinfo* ai = list.head; ai != nullptr; ai = ai->ai_next) {
        int err = 0;
        int fd = connectOnce(ai, deadline, &err);
        if (fd >= 0) {
          Fd out(fd);
          BRAID_RETURN_IF_ERROR(setNoDelay(out.get()));
          return out;
        }
        lastError = std::strerror(err);
        if (!isRetryableConnectError(err)) {
          errno = err;
          return systemError("connect to " + where);
        }
      }
    } else if (rc == EAI_AGAIN) {
      lastError = gai_strerror(rc);
    } else {
      return invalidArgument("cannot resolve host '" + host + "': " + gai_strerror(rc));
    }
    auto now = Clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(std::min<Clock::duration>(backoff, deadline - now));
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  return timeoutError("timed out connecting to " + where + " (last error: " + lastError + ")");
}

Result<Fd> acceptTcp(int listenFd, Deadline deadline) {
  while (true) {
    Result<bool> ready = waitReady(listenFd, POLLIN, deadline);
    if (!ready.isOk()) return ready.status();
    if (!ready.value()) return timeoutError("timed out waiting for an incoming connection");
    int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // The connection may have vanished between poll and accept; try again.
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED ||
          errno == EPROTO) {
        if (Clock::now() >= deadline) {
          return timeoutError("timed out waiting for an incoming connection");
        }
        continue;
      }
      return systemError("accept");
    }
    Fd out(fd);
    BRAID_RETURN_IF_ERROR(setNoDelay(out.get()));
    return out;
  }
}

Status writeFull(int fd, const void* data, size_t bytes, Deadline deadline) {
  const auto* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  bool isSocket = true;
  while (done < bytes) {
    ssize_t n = isSocket ? ::send(fd, p + done, bytes - done, MSG_NOSIGNAL | MSG_DONTWAIT)
                         : ::write(fd, p + done, bytes - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    int err = n < 0 ? errno : EAGAIN;
    if (err == ENOTSOCK && isSocket) {
      isSocket = false;
      continue;
    }
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      Result<bool> ready = waitReady(fd, POLLOUT, deadline);
      if (!ready.isOk()) return ready.status();
      if (!ready.value()) {
        return timeoutError("timed out writing " + std::to_string(bytes) + " bytes to " +
                            peerName(fd) + " (" + std::to_string(done) + " written)");
      }
      continue;
    }
    if (isDisconnectError(err)) return closedByPeer(fd);
    std::string what = "send to " + peerName(fd);
    errno = err;
    return systemError(what);
  }
  return Status::ok();
}

Status readFull(int fd, void* data, size_t bytes, Deadline deadline) {
  auto* p = static_cast<uint8_t*>(data);
  size_t done = 0;
  bool isSocket = true;
  while (done < bytes) {
    ssize_t n = isSocket ? ::recv(fd, p + done, bytes - done, MSG_DONTWAIT)
                         : ::read(fd, p + done, bytes - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return closedByPeer(fd);
    int err = errno;
    if (err == EINTR) continue;
    if (err == ENOTSOCK && isSocket) isSocket = false;  // then wait before each read()
    if (err == ENOTSOCK || err == EAGAIN || err == EWOULDBLOCK) {
      Result<bool> ready = waitReady(fd, POLLIN, deadline);
      if (!ready.isOk()) return ready.status();
      if (!ready.value()) {
        return timeoutError("timed out reading " + std::to_string(bytes) + " bytes from " +
                            peerName(fd) + " (" + std::to_string(done) + " received)");
      }
      continue;
    }
    if (isDisconnectError(err)) return closedByPeer(fd);
    std::string what = "recv from " + peerName(fd);
    errno = err;
    return systemError(what);
  }
  return Status::ok();
}

Status setNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0) return systemError("fcntl(F_GETFL)");
  if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return systemError("fcntl(F_SETFL)");
  return Status::ok();
}

Status setNoDelay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return systemError("setsockopt(TCP_NODELAY)");
  }
  return Status::ok();
}

void setBufferSizes(int fd, int bytes) {
  if (bytes <= 0) return;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

Status sendHello(int fd, uint64_t token, const Hello& hello, Deadline deadline) {
  const uint64_t msg[5] = {kHelloMagic, token, hello.purpose, hello.a, hello.b};
  BRAID_RETURN_IF_ERROR(writeFull(fd, msg, sizeof(msg), deadline));
  uint64_t ack = 0;
  Status s = readFull(fd, &ack, sizeof(ack), deadline);
  if (s.code() == StatusCode::kRemoteError) {
    return remoteError("peer " + peerName(fd) + " refused the connection (wrong job token?)");
  }
  BRAID_RETURN_IF_ERROR(s);
  if (ack != kHelloMagic) {
    return remoteError("peer " + peerName(fd) + " sent a malformed handshake reply");
  }
  return Status::ok();
}

Result<Hello> receiveHello(int fd, uint64_t token, Deadline deadline) {
  uint64_t msg[5] = {};
  BRAID_RETURN_IF_ERROR(readFull(fd, msg, sizeof(msg), deadline));
  const char* reason = nullptr;
  if (msg[0] != kHelloMagic) {
    reason = "bad handshake magic (not a braid peer)";
  } else if (msg[1] != token) {
    reason = "bad job token";
  }
  if (reason != nullptr) {
    std::string peer = peerName(fd);
    BRAID_LOG(kWarn, kNet, "refused connection from {}: {}", peer, reason);
    return remoteError("refused connection from " + peer + ": " + reason);
  }
  const uint64_t ack = kHelloMagic;
  BRAID_RETURN_IF_ERROR(writeFull(fd, &ack, sizeof(ack), deadline));
  Hello hello;
  hello.purpose = msg[2];
  hello.a = msg[3];
  hello.b = msg[4];
  return hello;
}

uint64_t randomU64() {
  uint64_t value = 0;
  size_t got = 0;
  auto* p = reinterpret_cast<uint8_t*>(&value);
  while (got < sizeof(value)) {
    ssize_t n = getrandom(p + got, sizeof(value) - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      break;
    }
  }
  if (got < sizeof(value)) {
    std::random_device rd;
    value = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  return value;
}

}  // namespace braid::net

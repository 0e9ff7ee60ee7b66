// The TCP store's server: one process runs a server thread that holds every key; ranks connect
// to it with the job token. The server is a single poll() loop over the listening socket, a
// wake-up eventfd and all clients, so it needs no locks; a GET for a missing key parks the
// client until some rank sets the key.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "braid/store.h"
#include "logging.h"
#include "params.h"
#include "tcp_store_protocol.h"
#include "util/socket.h"

namespace braid {
namespace {

using namespace tcpstore;

// ------------------------------------------------------------------------------------------
// Server

struct Client {
  uint64_t id = 0;
  net::Fd fd;
  std::string name;  // peer address, for logs
  bool helloDone = false;
  Clock::time_point helloDeadline;
  Bytes in;  // in[0, inUsed) are received, unparsed bytes
  size_t inUsed = 0;
  size_t need = 0;  // bytes the request being received needs in total (0 = unknown)
  Bytes out;        // out[outSent, size) are still to be sent
  size_t outSent = 0;
  bool waiting = false;  // parked on a GET of waitKey
  std::string waitKey;
  bool closing = false;
};

class TcpStoreServerImpl : public TcpStoreServer {
 public:
  TcpStoreServerImpl(net::Fd listenFd, net::Fd wakeFd, uint16_t port, std::string address,
                     uint64_t token)
      : listen_(std::move(listenFd)),
        wake_(std::move(wakeFd)),
        port_(port),
        address_(std::move(address)),
        token_(token) {}

  ~TcpStoreServerImpl() override {
    if (thread_.joinable()) {
      uint64_t one = 1;
      while (::write(wake_.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
      }
      thread_.join();
    }
  }

  Status start() {
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
      return Status(StatusCode::kSystemError,
                    std::string("cannot start the TCP store thread: ") + e.what());
    }
    return Status::ok();
  }

  uint16_t port() const override { return port_; }
  std::string address() const override { return address_; }

 private:
  void run();
  void acceptAll();
  void handshake(Client& c);
  bool receive(Client& c);
  bool processRequests(Client& c);
  bool handle(Client& c, Op op, std::string key, const uint8_t* value, uint64_t valueLen);
  void reply(Client& c, uint8_t status, const uint8_t* payload, size_t len);
  void flush(Client& c);
  void wakeWaiters(const std::string& key);
  void protocolError(Client& c, const std::string& what) {
    BRAID_LOG(kWarn, kBoot, "TCP store: closing client {}: {}", c.name, what);
    c.closing = true;
  }
  void removeClosed();

  net::Fd listen_;
  net::Fd wake_;
  const uint16_t port_;
  const std::string address_;
  const uint64_t token_;
  std::thread thread_;

  // Everything below is touched by the server thread only.
  uint64_t nextId_ = 1;
  std::map<uint64_t, std::unique_ptr<Client>> clients_;
  std::unordered_map<std::string, Bytes> data_;
  std::unordered_map<std::string, std::vector<uint64_t>> waiters_;
};

void TcpStoreServerImpl::run() {
  std::vector<pollfd> fds;
  std::vector<Client*> owners;
  while (true) {
    fds.clear();
    owners.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    fds.push_back({listen_.get(), POLLIN, 0});
    Clock::time_point nextExpiry = Clock::time_point::max();
    for (auto& [id, c] : clients_) {
      short events = 0;
      if (!c->helloDone) {
        events = POLLIN;
        nextExpiry = std::min(nextExpiry, c->helloDeadline);
      } else if (c->waiting) {
        events = POLLRDHUP;  // only to notice a client that gave up
      } else {
        events = POLLIN;
      }
      if (c->outSent < c->out.size()) events |= POLLOUT;
      fds.push_back({c->fd.get(), events, 0});
      owners.push_back(c.get());
    }
    int timeoutMs = -1;
    if (nextExpiry != Clock::time_point::max()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(nextExpiry - Clock::now());
      timeoutMs = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 60000));
    }
    int rc = ::poll(fds.data(), fds.size(), timeoutMs);
    if (rc < 0) {
      if (errno == EINTR) continue;
      BRAID_LOG(kError, kBoot, "TCP store: poll failed: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) return;  // the destructor asks us to stop
    if (fds[1].revents != 0) acceptAll();
    for (size_t i = 2; i < fds.size(); ++i) {
      Client& c = *owners[i - 2];
      short ev = fds[i].revents;
      if (ev == 0 || c.closing) continue;
      if (ev & POLLOUT) flush(c);
      if (c.closing) continue;
      if (c.waiting && (ev & (POLLRDHUP | POLLHUP | POLLERR))) {
        BRAID_LOG(kTrace, kBoot, "TCP store: client {} left while waiting for '{}'", c.name,
                  c.waitKey);
        c.closing = true;
      } else if ((ev & (POLLIN | POLLHUP | POLLERR)) && !c.helloDone) {
        handshake(c);
      } else if (ev & (POLLIN | POLLHUP | POLLERR)) {
        if (!receive(c) || !processRequests(c)) c.closing = true;
      }
    }
    auto now = Clock::now();
    for (auto& [id, c] : clients_) {
      if (!c->helloDone && now >= c->helloDeadline) {
        BRAID_LOG(kWarn, kBoot, "TCP store: {} sent no handshake in time; closing", c->name);
        c->closing = true;
      }
    }
    removeClosed();
  }
}

void TcpStoreServerImpl::acceptAll() {
  while (true) {
    Result<net::Fd> fd = net::acceptTcp(listen_.get(), Clock::now());
    if (!fd.isOk()) {
      if (fd.status().code() != StatusCode::kTimeout) {
        BRAID_LOG(kWarn, kBoot, "TCP store: accept failed: {}", fd.status().toString());
      }
      return;
    }
    auto c = std::make_unique<Client>();
    c->id = nextId_++;
    c->fd = std::move(fd.value());
    c->name = net::peerName(c->fd.get());
    c->helloDeadline = defaultDeadline();
    if (!net::setNonBlocking(c->fd.get()).isOk()) continue;
    // poll() reports the socket readable only once the whole hello has arrived (or on EOF), so
    // receiveHello() below never waits on a slow or silent dialer.
    int lowat = static_cast<int>(kHelloBytes);
    setsockopt(c->fd.get(), SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
    BRAID_LOG(kTrace, kBoot, "TCP store: connection from {}", c->name);
    clients_.emplace(c->id, std::move(c));
  }
}

void TcpStoreServerImpl::handshake(Client& c) {
  uint8_t peek[kHelloBytes];
  ssize_t n = ::recv(c.fd.get(), peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT);
  if (n > 0 && static_cast<size_t>(n) < kHelloBytes) return;  // not all there yet
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  // receiveHello logs a refused token itself; any failure simply closes the connection.
  Result<net::Hello> hello =
      net::receiveHello(c.fd.get(), token_, Clock::now() + std::chrono::seconds(1));
  if (!hello.isOk()) {
    BRAID_LOG(kTrace, kBoot, "TCP store: handshake with {} failed: {}", c.name,
              hello.status().toString());
    c.closing = true;
    return;
  }
  if (hello->purpose != kStorePurpose) {
    BRAID_LOG(kWarn, kBoot, "TCP store: refused connection from {}: purpose {} is not the store",
              c.name, hello->purpose);
    c.closing = true;
    return;
  }
  int lowat = 1;
  setsockopt(c.fd.get(), SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
  c.helloDone = true;
}

// Reads whatever has arrived. Returns false when the peer closed or the socket failed.
bool TcpStoreServerImpl::receive(Client& c) {
  while (true) {
    size_t want = std::max<size_t>(65536, c.need > c.inUsed ? c.need - c.inUsed : 0);
    if (c.in.size() < c.inUsed + want) c.in.resize(c.inUsed + want);
    ssize_t n = ::recv(c.fd.get(), c.in.data() + c.inUsed, want, MSG_DONTWAIT);
    if (n > 0) {
      c.inUsed += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < want) return true;
      continue;
    }
    if (n == 0) {
      BRAID_LOG(kTrace, kBoot, "TCP store: client {} disconnected", c.name);
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    BRAID_LOG(kTrace, kBoot, "TCP store: client {} failed: {}", c.name, std::strerror(errno));
    return false;
  }
}

// Parses and runs every complete request in c.in. Returns false on a protocol error.
bool TcpStoreServerImpl::processRequests(Client& c) {
  size_t pos = 0;
  bool ok = true;
  c.need = 0;
  while (!c.waiting && !c.closing) {
    const uint8_t* p = c.in.data() + pos;
    size_t avail = c.inUsed - pos;
    if (avail < 5) break;
    uint8_t op = p[0];
    uint32_t keyLen = loadAt<uint32_t>(p + 1);
    if (keyLen > kMaxKeyBytes) {
      protocolError(c, "key of " + std::to_string(keyLen) + " bytes is over the 4 KiB limit");
      ok = false;
      break;
    }
    size_t fixed = 5 + size_t{keyLen} + 8;
    if (avail < fixed) {
      c.need = pos + fixed;
      break;
    }
    uint64_t valueLen = loadAt<uint64_t>(p + 5 + keyLen);
    if (valueLen > kMaxValueBytes) {
      protocolError(c, "value of " + std::to_string(valueLen) + " bytes is over the 1 GiB limit");
      ok = false;
      break;
    }
    size_t total = fixed + static_cast<size_t>(valueLen);
    if (avail < total) {
      c.need = pos + total;
      break;
    }
    std::string key(reinterpret_cast<const char*>(p + 5), keyLen);
    pos += total;
    if (!handle(c, static_cast<Op>(op), std::move(key), p + fixed, valueLen)) {
      ok = false;
      break;
    }
  }
  // Drop the consumed bytes; keep a partial request at the front.
  if (pos > 0) {
    std::memmove(c.in.data(), c.in.data() + pos, c.inUsed - pos);
    c.inUsed -= pos;
    if (c.need >= pos) c.need -= pos;
  }
  if (c.inUsed == 0 && c.in.capacity() > (size_t{1} << 20)) Bytes().swap(c.in);
  return ok;
}

bool TcpStoreServerImpl::handle(Client& c, Op op, std::string key, const uint8_t* value,
                                uint64_t valueLen) {
  switch (op) {
    case Op::kSet: {
      data_[key] = Bytes(value, value + valueLen);
      reply(c, kReplyOk, nullptr, 0);
      wakeWaiters(key);
      return true;
    }
    case Op::kGet: {
      auto it = data_.find(key);
      if (it != data_.end()) {
        reply(c, kReplyOk, it->second.data(), it->second.size());
      } else {
        c.waiting = true;
        c.waitKey = key;
        waiters_[key].push_back(c.id);
      }
      return true;
    }
    case Op::kAdd: {
      if (valueLen != sizeof(int64_t)) {
        protocolError(c, "ADD with a " + std::to_string(valueLen) + "-byte operand");
        return false;
      }
      Bytes& stored = data_[key];
      int64_t current = 0;
      if (!parseInt64(stored, &current)) {
        std::string msg = "store key '" + key + "' does not hold an integer";
        reply(c, kReplyError, reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
        return true;
      }
      int64_t next = current + loadAt<int64_t>(value);
      std::string text = std::to_string(next);
      stored.assign(text.begin(), text.end());
      reply(c, kReplyOk, reinterpret_cast<const uint8_t*>(&next), sizeof(next));
      wakeWaiters(key);
      return true;
    }
    case Op::kCheck: {  // value: {uint32 len; key}*
      uint8_t all = 1;
      for (uint64_t off = 0; off < valueLen;) {
        uint32_t len = valueLen - off >= 4 ? loadAt<uint32_t>(value + off) : UINT32_MAX;
        if (len > kMaxKeyBytes || valueLen - off - 4 < len) {
          protocolError(c, "malformed CHECK key list");
          return false;
        }
        if (!data_.contains(std::string(reinterpret_cast<const char*>(value + off + 4), len))) {
          all = 0;
        }
        off += 4 + len;
      }
      reply(c, kReplyOk, &all, 1);
      return true;
    }
  }
  protocolError(c, "unknown operation " + std::to_string(static_cast<int>(op)));
  return false;
}

void TcpStoreServerImpl::reply(Client& c, uint8_t status, const uint8_t* payload, size_t len) {
  c.out.reserve(c.out.size() + kReplyHeaderBytes + len);
  c.out.push_back(status);
  append<uint64_t>(&c.out, len);
  if (len > 0) c.out.insert(c.out.end(), payload, payload + len);
  flush(c);
}

void TcpStoreServerImpl::flush(Client& c) {
  while (c.outSent < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.outSent, c.out.size() - c.outSent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.outSent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // poll for POLLOUT
    BRAID_LOG(kTrace, kBoot, "TCP store: sending to {} failed: {}", c.name, std::strerror(errno));
    c.closing = true;
    return;
  }
  c.out.clear();
  c.outSent = 0;
  if (c.out.capacity() > (size_t{1} << 20)) Bytes().swap(c.out);
}

void TcpStoreServerImpl::wakeWaiters(const std::string& key) {
  auto it = waiters_.find(key);
  if (it == waiters_.end()) return;
  std::vector<uint64_t> ids = std::move(it->second);
  waiters_.erase(it);
  const Bytes& value = data_[key];
  for (uint64_t id : ids) {
    auto cit = clients_.find(id);
    if (cit == clients_.end()) continue;
    Client& w = *cit->second;
    if (w.closing || !w.waiting || w.waitKey != key) continue;
    w.waiting = false;
    w.waitKey.clear();
    reply(w, kReplyOk, value.data(), value.size());
    // A well-behaved client has nothing queued, but serve anything it sent meanwhile.
    if (!w.closing && w.inUsed > 0 && !processRequests(w)) w.closing = true;
  }
}

void TcpStoreServerImpl::removeClosed() {
  for (auto it = clients_.begin(); it != clients_.end();) {
    Client& c = *it->second;
    if (!c.closing) {
      ++it;
      continue;
    }
    if (c.waiting) {
      auto wit = waiters_.find(c.waitKey);
      if (wit != waiters_.end()) {
        std::erase(wit->second, c.id);
        if (wit->second.empty()) waiters_.erase(wit);
      }
    }
    it = clients_.erase(it);
  }
}

}  // namespace

Result<std::unique_ptr<TcpStoreServer>> startTcpStoreServer(const std::string& bindHost,
                                                            uint16_t port, uint64_t token) {
  Result<net::Fd> listenFd = net::listenTcp(bindHost, port);
  if (!listenFd.isOk()) return listenFd.status();
  BRAID_RETURN_IF_ERROR(net::setNonBlocking(listenFd->get()));
  Result<uint16_t> boundPort = net::localPort(listenFd->get());
  if (!boundPort.isOk()) return boundPort.status();
  net::Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return systemError("eventfd for the TCP store");
  std::string host = bindHost;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  std::string address = host.find(':') != std::string::npos
                            ? "[" + host + "]:" + std::to_string(boundPort.value())
                            : host + ":" + std::to_string(boundPort.value());
  auto server = std::make_unique<TcpStoreServerImpl>(std::move(listenFd.value()), std::move(wake),
                                                     boundPort.value(), address, token);
  BRAID_RETURN_IF_ERROR(server->start());
  BRAID_LOG(kInfo, kBoot, "TCP store listening on {}:{}", bindHost.empty() ? "0.0.0.0" : bindHost,
            boundPort.value());
  return std::unique_ptr<TcpStoreServer>(std::move(server));
}

}  // namespace braid

// The TCP store: one process runs a server thread that holds every key; ranks connect to it
// with the job token. The server is a single poll() loop over the listening socket, a wake-up
// eventfd and all clients, so it needs no locks; a GET for a missing key parks the client until
// some rank sets the key. Clients keep one request in flight per connection and apply their
// timeouts locally: a client that gives up drops that connection (the next call dials again),
// so a late reply can never be mistaken for the answer to a later request.
//
// Wire format (host byte order; all ranks of a job share one architecture):
//   request  {uint8 op; uint32 keyLen; key; uint64 valueLen; value}
//   reply    {uint8 status; uint64 len; payload}   status 0 = ok, 1 = error (payload = message)
// ADD's value and reply payload are an int64; CHECK's value is a list of {uint32 len; key} and
// its reply payload one byte (1 = all keys set).
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
#include "util/socket.h"

namespace braid {
namespace {

using Clock = std::chrono::steady_clock;

enum class Op : uint8_t { kSet = 1, kGet = 2, kAdd = 3, kCheck = 4 };
constexpr uint8_t kReplyOk = 0;
constexpr uint8_t kReplyError = 1;
constexpr uint64_t kStorePurpose = 1;
constexpr size_t kMaxKeyBytes = 4096;
constexpr uint64_t kMaxValueBytes = uint64_t{1} << 30;
constexpr size_t kHelloBytes = 5 * sizeof(uint64_t);
constexpr size_t kReplyHeaderBytes = 1 + sizeof(uint64_t);

template <typename T>
T loadAt(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
void append(Bytes* out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out->insert(out->end(), p, p + sizeof(T));
}

bool parseInt64(const Bytes& b, int64_t* out) {
  *out = 0;
  if (b.empty()) return true;
  const char* begin = reinterpret_cast<const char*>(b.data());
  auto [ptr, ec] = std::from_chars(begin, begin + b.size(), *out);
  return ec == std::errc() && ptr == begin + b.size();
}

Clock::time_point deadlineAfter(std::chrono::milliseconds timeout) {
  constexpr auto kForever = std::chrono::hours(24 * 365 * 10);
  if (timeout < std::chrono::milliseconds(0)) timeout = std::chrono::milliseconds(0);
  return Clock::now() + std::min<Clock::duration>(timeout, kForever);
}

Clock::time_point defaultDeadline() {
  auto ms = static_cast<int64_t>(params().timeoutSec * 1000.0);
  return deadlineAfter(std::chrono::milliseconds(ms));
}

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

// ------------------------------------------------------------------------------------------
// Client

class TcpStore : public Store {
 public:
  TcpStore(std::string host, uint16_t port, uint64_t token)
      : host_(std::move(host)), port_(port), token_(token) {}

  // Dials the first connection, so that a wrong address or token fails at creation.
  Status connect(Clock::time_point deadline) {
    Result<net::Fd> fd = dial(deadline);
    if (!fd.isOk()) return fd.status();
    release(std::move(fd.value()));
    return Status::ok();
  }

  Status set(const std::string& key, const Bytes& value) override {
    BRAID_RETURN_IF_ERROR(checkKey(key));
    if (value.size() > kMaxValueBytes) {
      return invalidArgument("store value for '" + key + "' is over the 1 GiB limit");
    }
    Result<Bytes> r = call(Op::kSet, key, value.data(), value.size(), defaultDeadline());
    return r.status();
  }

  Result<Bytes> get(const std::string& key, std::chrono::milliseconds timeout) override {
    BRAID_RETURN_IF_ERROR(checkKey(key));
    Result<Bytes> r = call(Op::kGet, key, nullptr, 0, deadlineAfter(timeout));
    if (!r.isOk() && r.status().code() == StatusCode::kTimeout) {
      return timeoutError("timed out after " + std::to_string(timeout.count()) +
                          " ms waiting for store key '" + key + "' (TCP store " + where() + ")");
    }
    return r;
  }

  Result<int64_t> add(const std::string& key, int64_t delta) override {
    BRAID_RETURN_IF_ERROR(checkKey(key));
    Result<Bytes> r = call(Op::kAdd, key, reinterpret_cast<const uint8_t*>(&delta), sizeof(delta),
                           defaultDeadline());
    if (!r.isOk()) return r.status();
    if (r->size() != sizeof(int64_t)) {
      return remoteError("TCP store " + where() + " sent a malformed ADD reply");
    }
    return loadAt<int64_t>(r->data());
  }

  Result<bool> check(const std::vector<std::string>& keys) override {
    Bytes list;
    for (const auto& key : keys) {
      BRAID_RETURN_IF_ERROR(checkKey(key));
      append<uint32_t>(&list, static_cast<uint32_t>(key.size()));
      list.insert(list.end(), key.begin(), key.end());
    }
    Result<Bytes> r = call(Op::kCheck, "", list.data(), list.size(), defaultDeadline());
    if (!r.isOk()) return r.status();
    if (r->size() != 1) {
      return remoteError("TCP store " + where() + " sent a malformed CHECK reply");
    }
    return r->front() != 0;
  }

 private:
  // Idle connections kept for reuse; more are dialed while several threads have calls open.
  static constexpr size_t kMaxIdle = 4;

  static Status checkKey(const std::string& key) {
    if (key.size() > kMaxKeyBytes) {
      return invalidArgument("store key of " + std::to_string(key.size()) +
                             " bytes is over the 4 KiB limit");
    }
    return Status::ok();
  }

  std::string where() const { return host_ + ":" + std::to_string(port_); }

  Result<net::Fd> dial(Clock::time_point deadline) {
    Result<net::Fd> fd = net::connectTcp(host_, port_, deadline);
    if (!fd.isOk()) return fd.status();
    net::Hello hello;
    hello.purpose = kStorePurpose;
    BRAID_RETURN_IF_ERROR(net::sendHello(fd->get(), token_, hello, deadline));
    return fd;
  }

  Result<net::Fd> acquire(Clock::time_point deadline) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        net::Fd fd = std::move(idle_.back());
        idle_.pop_back();
        return fd;
      }
    }
    return dial(deadline);
  }

  void release(net::Fd fd) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(fd));
  }

  // One request and its reply on a connection of its own: calls from several threads run
  // concurrently (a blocked get does not hold up a set). A connection that fails or times out
  // is closed rather than reused, so a late reply can never answer a later request.
  Result<Bytes> call(Op op, const std::string& key, const uint8_t* value, size_t valueLen,
                     Clock::time_point deadline) {
    Result<net::Fd> conn = acquire(deadline);
    if (!conn.isOk()) return conn.status();
    const int fd = conn->get();
    Bytes header;
    header.reserve(13 + key.size());
    header.push_back(static_cast<uint8_t>(op));
    append<uint32_t>(&header, static_cast<uint32_t>(key.size()));
    header.insert(header.end(), key.begin(), key.end());
    append<uint64_t>(&header, valueLen);
    Status s = net::writeFull(fd, header.data(), header.size(), deadline);
    if (s.isOk() && valueLen > 0) s = net::writeFull(fd, value, valueLen, deadline);
    uint8_t replyHeader[kReplyHeaderBytes];
    if (s.isOk()) s = net::readFull(fd, replyHeader, sizeof(replyHeader), deadline);
    if (!s.isOk()) return s;
    uint8_t status = replyHeader[0];
    uint64_t len = loadAt<uint64_t>(replyHeader + 1);
    if (len > kMaxValueBytes || (status != kReplyOk && status != kReplyError)) {
      return remoteError("TCP store " + where() + " sent a malformed reply");
    }
    Bytes payload(static_cast<size_t>(len));
    BRAID_RETURN_IF_ERROR(net::readFull(fd, payload.data(), payload.size(), deadline));
    release(std::move(conn.value()));
    if (status == kReplyError) {
      return remoteError("TCP store " + where() + ": " +
                         std::string(payload.begin(), payload.end()));
    }
    return payload;
  }

  const std::string host_;
  const uint16_t port_;
  const uint64_t token_;
  std::mutex mu_;
  std::vector<net::Fd> idle_;  // guarded by mu_
};

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

Result<std::shared_ptr<Store>> connectTcpStore(const std::string& host, uint16_t port,
                                               uint64_t token, std::chrono::milliseconds timeout) {
  auto store = std::make_shared<TcpStore>(host, port, token);
  BRAID_RETURN_IF_ERROR(store->connect(deadlineAfter(timeout)));
  return std::shared_ptr<Store>(std::move(store));
}

}  // namespace braid

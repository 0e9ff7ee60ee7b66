// The TCP store's client. Clients keep one request in flight per connection and apply their
// timeouts locally: a client that gives up drops that connection (the next call dials again),
// so a late reply can never be mistaken for the answer to a later request.
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

Result<std::shared_ptr<Store>> connectTcpStore(const std::string& host, uint16_t port,
                                               uint64_t token, std::chrono::milliseconds timeout) {
  auto store = std::make_shared<TcpStore>(host, port, token);
  BRAID_RETURN_IF_ERROR(store->connect(deadlineAfter(timeout)));
  return std::shared_ptr<Store>(std::move(store));
}

}  // namespace braid

// Helpers shared by the TCP transport tests: ranks as threads of one process over loopback,
// a drive loop, payload patterns, and a hand-driven fake peer for wire-level tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "braid/store.h"
#include "params.h"
#include "tcp/transport.h"
#include "util/socket.h"

namespace braid::tcptest {

using namespace std::chrono_literals;

constexpr uint64_t kToken = 0x1234abcd5678ef01ull;
constexpr uint64_t kCommId = 42;

// Sets BRAID_TCP_SOCKETS for one test and restores the default afterwards.
class SocketsEnv {
 public:
  explicit SocketsEnv(int sockets) {
    setenv("BRAID_TCP_SOCKETS", std::to_string(sockets).c_str(), 1);
    reloadParams();
  }
  ~SocketsEnv() {
    unsetenv("BRAID_TCP_SOCKETS");
    reloadParams();
  }
};

inline void runRanks(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) threads.emplace_back(fn, r);
  for (auto& t : threads) t.join();
}

inline TransportSetup makeSetup(int rank, int n, std::shared_ptr<Store> store,
                                Clock::duration timeout = 20s, uint64_t token = kToken) {
  TransportSetup s;
  s.rank = rank;
  s.size = n;
  for (int p = 0; p < n; ++p) {
    if (p != rank) s.peers.push_back(p);
  }
  s.store = std::move(store);
  s.token = token;
  s.commId = kCommId;
  s.deadline = Clock::now() + timeout;
  s.advertiseAddress = "127.0.0.1";
  return s;
}

// Connects n ranks; every transport must come up.
inline std::vector<std::unique_ptr<Transport>> connectAll(int n) {
  auto store = makeHashStore();
  std::vector<std::unique_ptr<Transport>> out(static_cast<size_t>(n));
  runRanks(n, [&](int r) {
    auto t = createTcpTransport(makeSetup(r, n, store));
    ASSERT_TRUE(t.isOk()) << t.status().toString();
    out[static_cast<size_t>(r)] = std::move(t.value());
  });
  for (auto& t : out) EXPECT_NE(t, nullptr);
  return out;
}

// Drives t until every request completes, an error occurs or `limit` passes.
inline Status drive(Transport* t, const std::vector<Request*>& reqs, Clock::duration limit = 15s) {
  auto end = Clock::now() + limit;
  for (;;) {
    bool all = true;
    for (Request* r : reqs) all = all && r->complete;
    if (all) return Status::ok();
    if (Clock::now() > end) return timeoutError("test drive loop timed out");
    bool p = false;
    Status st = t->progress(&p);
    if (!st) return st;
    if (!p) {
      st = t->block(Clock::now() + 10ms);
      if (!st) return st;
    }
  }
}

inline uint8_t pattern(int from, int to, size_t msg, size_t i) {
  return static_cast<uint8_t>(
      (i * 131 + msg * 7 + static_cast<size_t>(from) * 17 + static_cast<size_t>(to) * 29) >> 1);
}

inline Request sendReq(int peer, uint64_t seq, const std::vector<uint8_t>& buf) {
  Request r;
  r.type = Request::Type::kSend;
  r.peer = peer;
  r.seq = seq;
  r.bytes = buf.size();
  r.src = buf.data();
  return r;
}

inline Request recvReq(int peer, uint64_t seq, std::vector<uint8_t>* buf) {
  Request r;
  r.type = Request::Type::kRecv;
  r.peer = peer;
  r.seq = seq;
  r.bytes = buf->size();
  r.dst = buf->data();
  return r;
}

inline void sumInt32(void* dst, const void* a, const void* b, size_t count) {
  auto* d = static_cast<int32_t*>(dst);
  auto* x = static_cast<const int32_t*>(a);
  auto* y = static_cast<const int32_t*>(b);
  for (size_t i = 0; i < count; ++i) d[i] = x[i] + y[i];
}

inline int32_t value(int rank, size_t i) { return static_cast<int32_t>(i * 3 + 1000 * rank + 1); }

// Rank 1 is a real transport (BRAID_TCP_SOCKETS must be 1); this thread plays rank 0 over a
// raw socket, writing frames by hand.
inline void connectFakeRank0(std::unique_ptr<Transport>* t1, net::Fd* fd) {
  auto store = makeHashStore();
  std::thread rank1([&] {
    auto t = createTcpTransport(makeSetup(1, 2, store));
    ASSERT_TRUE(t.isOk()) << t.status().toString();
    *t1 = std::move(t.value());
  });
  auto addr = store->get("tcp/addr/1", 10s);
  ASSERT_TRUE(addr.isOk());
  std::string text(addr->begin(), addr->end());
  auto port = static_cast<uint16_t>(std::stoi(text.substr(text.rfind(':') + 1)));
  auto dialed = net::connectTcp("127.0.0.1", port, Clock::now() + 10s);
  ASSERT_TRUE(dialed.isOk());
  net::Hello hello;
  hello.purpose = 0x7463700000000000ull ^ kCommId;
  hello.a = 0;
  hello.b = 0;
  ASSERT_TRUE(net::sendHello(dialed->get(), kToken, hello, Clock::now() + 10s).isOk());
  rank1.join();
  ASSERT_TRUE(*t1);
  *fd = std::move(*dialed);
}

struct RawFrame {
  uint32_t magic = 0x54445242;
  uint8_t kind = 1;
  uint8_t pad[3] = {};
  uint64_t seq = 0, msgBytes = 0, offset = 0, len = 0;
};

}  // namespace braid::tcptest

// Tests of the socket helpers and of the three stores (hash, file, TCP): the rendezvous every
// communicator depends on must wait, time out, count and isolate exactly as documented.
#include "braid/store.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "util/socket.h"

namespace braid {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kToken = 0x5eedf00d12345678ull;

Bytes bytesOf(const std::string& s) { return Bytes(s.begin(), s.end()); }

// ---- Socket helpers ------------------------------------------------------------------------

TEST(SocketTest, ParseHostPort) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(net::parseHostPort("node1:29500", &host, &port).isOk());
  EXPECT_EQ(host, "node1");
  EXPECT_EQ(port, 29500);
  ASSERT_TRUE(net::parseHostPort("[::1]:80", &host, &port).isOk());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 80);
  EXPECT_EQ(net::parseHostPort("node1", &host, &port).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(net::parseHostPort("node1:99999", &host, &port).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(net::parseHostPort("node1:x", &host, &port).code(), StatusCode::kInvalidArgument);
}

TEST(SocketTest, HandshakeAndEof) {
  auto listener = net::listenTcp("127.0.0.1", 0);
  ASSERT_TRUE(listener.isOk()) << listener.status().toString();
  auto port = net::localPort(listener->get());
  ASSERT_TRUE(port.isOk());
  auto deadline = Clock::now() + 5s;
  std::thread dialer([&] {
    auto fd = net::connectTcp("localhost", port.value(), deadline);
    ASSERT_TRUE(fd.isOk()) << fd.status().toString();
    net::Hello hello{7, 3, 1};
    ASSERT_TRUE(net::sendHello(fd->get(), kToken, hello, deadline).isOk());
    auto addr = net::localAddress(fd->get());
    ASSERT_TRUE(addr.isOk());
    EXPECT_EQ(addr.value(), "127.0.0.1");
  });
  auto conn = net::acceptTcp(listener->get(), deadline);
  ASSERT_TRUE(conn.isOk()) << conn.status().toString();
  auto hello = net::receiveHello(conn->get(), kToken, deadline);
  ASSERT_TRUE(hello.isOk()) << hello.status().toString();
  EXPECT_EQ(hello->purpose, 7u);
  EXPECT_EQ(hello->a, 3u);
  EXPECT_EQ(hello->b, 1u);
  dialer.join();
  // The dialer closed its end: reading more is a RemoteError, not a hang.
  uint8_t byte;
  Status s = net::readFull(conn->get(), &byte, 1, deadline);
  EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.toString();
  EXPECT_NE(s.message().find("closed by peer"), std::string::npos) << s.toString();
}

TEST(SocketTest, ReadTimesOutAndWriteNeverRaisesSigpipe) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  net::Fd a(sv[0]), b(sv[1]);
  uint8_t buf[4];
  Status s = net::readFull(a.get(), buf, sizeof(buf), Clock::now() + 30ms);
  EXPECT_EQ(s.code(), StatusCode::kTimeout) << s.toString();
  b.reset();
  s = net::writeFull(a.get(), buf, sizeof(buf), Clock::now() + 1s);
  EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.toString();
}

TEST(SocketTest, ConnectTimesOutNamingTheAddress) {
  // A port that was just free: nobody listens there.
  auto listener = net::listenTcp("127.0.0.1", 0);
  ASSERT_TRUE(listener.isOk());
  uint16_t port = net::localPort(listener->get()).value();
  listener->reset();
  auto start = Clock::now();
  auto fd = net::connectTcp("127.0.0.1", port, Clock::now() + 150ms);
  ASSERT_FALSE(fd.isOk());
  EXPECT_EQ(fd.status().code(), StatusCode::kTimeout);
  EXPECT_NE(fd.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(SocketTest, RandomValuesDiffer) { EXPECT_NE(net::randomU64(), net::randomU64()); }

// ---- Every store kind ----------------------------------------------------------------------

enum class Kind { kHash, kFile, kTcp };

class StoreTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    switch (GetParam()) {
      case Kind::kHash:
        hash_ = makeHashStore();
        break;
      case Kind::kFile: {
        std::string tmpl = (std::filesystem::temp_directory_path() / "braid_store_XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl + "/nested/dir";  // created on demand
        break;
      }
      case Kind::kTcp: {
        auto server = startTcpStoreServer("", 0, kToken);
        ASSERT_TRUE(server.isOk()) << server.status().toString();
        server_ = std::move(server.value());
        break;
      }
    }
  }
  void TearDown() override {
    server_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(std::filesystem::path(dir_).parent_path().parent_path(), ec);
    }
  }

  // A new handle on the same store, as another rank would have.
  std::shared_ptr<Store> handle() {
    switch (GetParam()) {
      case Kind::kHash:
        return hash_;
      case Kind::kFile:
        return makeFileStore(dir_);
      case Kind::kTcp: {
        auto store = connectTcpStore("127.0.0.1", server_->port(), kToken, 5s);
        EXPECT_TRUE(store.isOk()) << store.status().toString();
        return store.isOk() ? store.value() : nullptr;
      }
    }
    return nullptr;
  }

  std::shared_ptr<Store> hash_;
  std::string dir_;
  std::unique_ptr<TcpStoreServer> server_;
};

TEST_P(StoreTest, SetGetOverwrite) {
  auto store = handle();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->set("a/b c", bytesOf("one")).isOk());
  auto v = store->get("a/b c", 1s);
  ASSERT_TRUE(v.isOk()) << v.status().toString();
  EXPECT_EQ(v.value(), bytesOf("one"));
  ASSERT_TRUE(store->setString("a/b c", "two").isOk());
  auto s = handle()->getString("a/b c", 1s);
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(s.value(), "two");
  ASSERT_TRUE(store->set("empty", Bytes{}).isOk());
  auto e = store->get("empty", 1s);
  ASSERT_TRUE(e.isOk());
  EXPECT_TRUE(e->empty());
}

TEST_P(StoreTest, GetWaitsForSetFromAnotherThread) {
  auto store = handle();
  std::thread setter([&] {
    auto other = handle();
    std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(other->setString("late", "here").isOk());
  });
  auto v = store->getString("late", 5s);
  setter.join();
  ASSERT_TRUE(v.isOk()) << v.status().toString();
  EXPECT_EQ(v.value(), "here");
}

TEST_P(StoreTest, GetTimesOutNamingTheKey) {
  auto store = handle();
  auto start = Clock::now();
  auto v = store->get("missing-key", 60ms);
  auto took = Clock::now() - start;
  ASSERT_FALSE(v.isOk());
  EXPECT_EQ(v.status().code(), StatusCode::kTimeout);
  EXPECT_NE(v.status().message().find("missing-key"), std::string::npos);
  EXPECT_GE(took, 55ms);
  EXPECT_LT(took, 2s);
  // The store stays usable after a timed-out get.
  ASSERT_TRUE(store->setString("missing-key", "now").isOk());
  auto again = store->getString("missing-key", 1s);
  ASSERT_TRUE(again.isOk()) << again.status().toString();
  EXPECT_EQ(again.value(), "now");
}

TEST_P(StoreTest, ConcurrentAddIsExact) {
  constexpr int kThreads = 8, kAdds = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto store = handle();
      for (int i = 0; i < kAdds; ++i) {
        if (!store->add("counter", 2).isOk()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto store = handle();
  auto total = store->add("counter", 0);
  ASSERT_TRUE(total.isOk()) << total.status().toString();
  EXPECT_EQ(total.value(), 2 * kThreads * kAdds);
  EXPECT_EQ(store->getString("counter", 1s).value(), std::to_string(2 * kThreads * kAdds));
  EXPECT_EQ(store->add("counter", -5).value(), 2 * kThreads * kAdds - 5);
  ASSERT_TRUE(store->setString("text", "abc").isOk());
  EXPECT_EQ(store->add("text", 1).status().code() == StatusCode::kOk, false);
}

TEST_P(StoreTest, SharedHandleServesThreadsConcurrently) {
  // One handle used by a blocked getter and a setter at once must not deadlock.
  auto store = handle();
  std::thread getter([&] {
    auto v = store->getString("shared", 5s);
    EXPECT_TRUE(v.isOk()) << v.status().toString();
  });
  std::this_thread::sleep_for(30ms);
  EXPECT_TRUE(store->setString("shared", "x").isOk());
  getter.join();
}

TEST_P(StoreTest, CheckAndWait) {
  auto store = handle();
  auto c = store->check({"k1", "k2"});
  ASSERT_TRUE(c.isOk());
  EXPECT_FALSE(c.value());
  ASSERT_TRUE(store->setString("k1", "1").isOk());
  EXPECT_FALSE(store->check({"k1", "k2"}).value());
  EXPECT_TRUE(store->check({"k1"}).value());
  EXPECT_TRUE(store->check({}).value());
  Status w = store->wait({"k1", "k2"}, 50ms);
  EXPECT_EQ(w.code(), StatusCode::kTimeout);
  EXPECT_NE(w.message().find("k2"), std::string::npos);
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(handle()->setString("k2", "2").isOk());
  });
  EXPECT_TRUE(store->wait({"k1", "k2"}, 5s).isOk());
  setter.join();
  EXPECT_TRUE(store->check({"k1", "k2"}).value());
}

TEST_P(StoreTest, PrefixStoresAreIsolated) {
  auto base = handle();
  auto p1 = makePrefixStore(base, "comm1/");
  auto p2 = makePrefixStore(handle(), "comm2/");
  ASSERT_TRUE(p1->setString("rank0", "from-p1").isOk());
  ASSERT_TRUE(p2->setString("rank0", "from-p2").isOk());
  EXPECT_EQ(p1->getString("rank0", 1s).value(), "from-p1");
  EXPECT_EQ(p2->getString("rank0", 1s).value(), "from-p2");
  EXPECT_EQ(base->getString("comm1/rank0", 1s).value(), "from-p1");
  EXPECT_FALSE(base->check({"rank0"}).value());
  EXPECT_TRUE(p1->check({"rank0"}).value());
  EXPECT_EQ(p1->add("n", 3).value(), 3);
  EXPECT_EQ(p2->add("n", 1).value(), 1);
  EXPECT_EQ(p1->get("only-in-p2", 10ms).status().code(), StatusCode::kTimeout);
}

TEST_P(StoreTest, BigValueRoundTrips) {
  Bytes big(8 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 131 + (i >> 13));
  ASSERT_TRUE(handle()->set("big", big).isOk());
  auto v = handle()->get("big", 5s);
  ASSERT_TRUE(v.isOk()) << v.status().toString();
  EXPECT_TRUE(v.value() == big);
}

TEST_P(StoreTest, LongAndOddKeys) {
  auto store = handle();
  std::string longKey(1000, 'k');
  std::string odd = "../..%2F/\n\x01.";
  ASSERT_TRUE(store->setString(longKey, "long").isOk());
  ASSERT_TRUE(store->setString(longKey + "x", "longer").isOk());
  ASSERT_TRUE(store->setString(odd, "odd").isOk());
  ASSERT_TRUE(store->setString("", "empty-key").isOk());
  EXPECT_EQ(store->getString(longKey, 1s).value(), "long");
  EXPECT_EQ(store->getString(longKey + "x", 1s).value(), "longer");
  EXPECT_EQ(store->getString(odd, 1s).value(), "odd");
  EXPECT_EQ(store->getString("", 1s).value(), "empty-key");
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreTest,
                         ::testing::Values(Kind::kHash, Kind::kFile, Kind::kTcp),
                         [](const ::testing::TestParamInfo<Kind>& param) {
                           switch (param.param) {
                             case Kind::kHash:
                               return std::string("Hash");
                             case Kind::kFile:
                               return std::string("File");
                             case Kind::kTcp:
                               return std::string("Tcp");
                           }
                           return std::string("Unknown");
                         });

// ---- TCP store specifics -------------------------------------------------------------------

TEST(TcpStoreTest, WrongTokenIsRefusedAndServerKeepsServing) {
  auto server = startTcpStoreServer("127.0.0.1", 0, kToken);
  ASSERT_TRUE(server.isOk()) << server.status().toString();
  EXPECT_EQ(server.value()->address(), "127.0.0.1:" + std::to_string(server.value()->port()));
  auto good = connectTcpStore("127.0.0.1", server.value()->port(), kToken, 5s);
  ASSERT_TRUE(good.isOk()) << good.status().toString();
  ASSERT_TRUE(good.value()->setString("before", "1").isOk());

  auto start = Clock::now();
  auto bad = connectTcpStore("127.0.0.1", server.value()->port(), kToken + 1, 5s);
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), StatusCode::kRemoteError) << bad.status().toString();
  EXPECT_NE(bad.status().message().find("wrong job token"), std::string::npos);
  EXPECT_LT(Clock::now() - start, 2s);

  ASSERT_TRUE(good.value()->setString("after", "2").isOk());
  EXPECT_EQ(good.value()->getString("before", 1s).value(), "1");
  EXPECT_EQ(good.value()->getString("after", 1s).value(), "2");
}

TEST(TcpStoreTest, ServerDestructionFailsAWaitingGet) {
  auto server = startTcpStoreServer("", 0, kToken);
  ASSERT_TRUE(server.isOk());
  auto client = connectTcpStore("127.0.0.1", server.value()->port(), kToken, 5s);
  ASSERT_TRUE(client.isOk());
  auto start = Clock::now();
  std::thread killer([&] {
    std::this_thread::sleep_for(50ms);
    server.value().reset();
  });
  auto v = client.value()->get("never", 5s);
  killer.join();
  EXPECT_FALSE(v.isOk());
  EXPECT_EQ(v.status().code(), StatusCode::kRemoteError) << v.status().toString();
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(TcpStoreTest, ClientRetriesUntilServerStarts) {
  auto probe = net::listenTcp("127.0.0.1", 0);
  ASSERT_TRUE(probe.isOk());
  uint16_t port = net::localPort(probe->get()).value();
  probe->reset();
  std::unique_ptr<TcpStoreServer> server;
  std::thread starter([&] {
    std::this_thread::sleep_for(100ms);
    auto s = startTcpStoreServer("127.0.0.1", port, kToken);
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    server = std::move(s.value());
  });
  auto client = connectTcpStore("127.0.0.1", port, kToken, 5s);
  starter.join();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  EXPECT_TRUE(client.value()->setString("k", "v").isOk());
}

TEST(TcpStoreTest, OversizedMessagesAreRejected) {
  auto server = startTcpStoreServer("127.0.0.1", 0, kToken);
  ASSERT_TRUE(server.isOk());
  uint16_t port = server.value()->port();
  auto client = connectTcpStore("127.0.0.1", port, kToken, 5s);
  ASSERT_TRUE(client.isOk());
  EXPECT_EQ(client.value()->setString(std::string(5000, 'k'), "v").code(),
            StatusCode::kInvalidArgument);

  // A raw client that announces a 5000-byte key is disconnected by the server.
  auto deadline = Clock::now() + 5s;
  auto raw = net::connectTcp("127.0.0.1", port, deadline);
  ASSERT_TRUE(raw.isOk());
  ASSERT_TRUE(net::sendHello(raw->get(), kToken, net::Hello{1, 0, 0}, deadline).isOk());
  uint8_t request[5] = {1, 0, 0, 0, 0};
  uint32_t keyLen = 5000;
  std::memcpy(request + 1, &keyLen, sizeof(keyLen));
  ASSERT_TRUE(net::writeFull(raw->get(), request, sizeof(request), deadline).isOk());
  uint8_t reply;
  EXPECT_EQ(net::readFull(raw->get(), &reply, 1, deadline).code(), StatusCode::kRemoteError);

  // Others are still served.
  EXPECT_TRUE(client.value()->setString("k", "v").isOk());
  EXPECT_EQ(client.value()->getString("k", 1s).value(), "v");
}

}  // namespace
}  // namespace braid

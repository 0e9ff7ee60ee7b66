// Failure tests of the TCP transport: mismatched operations, corrupt frames, the job-token
// handshake, strangers at setup, error frames (notifyError) and dead peers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "tcp_test_util.h"

namespace braid::tcptest {
namespace {

// The receiver expects fewer bytes than the sender sends: RemoteError, and no byte written.
TEST(TcpTransport, MismatchedSizeIsRemoteError) {
  auto ts = connectAll(2);
  runRanks(2, [&](int r) {
    Transport* t = ts[static_cast<size_t>(r)].get();
    if (r == 0) {
      std::vector<uint8_t> a(1000, 7), b(10, 8);
      Request s1 = sendReq(1, 3, a);
      t->connection(1)->post(&s1);
      ASSERT_TRUE(drive(t, {&s1}).isOk());
    } else {
      std::vector<uint8_t> guard(1000, 0xEE);
      Request in = recvReq(0, 3, &guard);
      in.bytes = 500;
      t->connection(0)->post(&in);
      Status st = drive(t, {&in});
      EXPECT_EQ(st.code(), StatusCode::kRemoteError) << st.toString();
      EXPECT_NE(st.message().find("rank 0 sent data #3 of 1000 bytes but this rank expects "
                                  "data #3 of 500 bytes"),
                std::string::npos)
          << st.message();
      for (uint8_t c : guard) ASSERT_EQ(c, 0xEE);
      EXPECT_FALSE(in.complete);
      // The failure is sticky.
      bool p = false;
      EXPECT_EQ(t->progress(&p).code(), StatusCode::kRemoteError);
    }
  });
}

TEST(TcpTransport, MismatchedKindIsRemoteError) {
  auto ts = connectAll(2);
  runRanks(2, [&](int r) {
    Transport* t = ts[static_cast<size_t>(r)].get();
    std::vector<uint8_t> buf(64, 1);
    if (r == 0) {
      Request s = sendReq(1, 4, buf);
      s.kind = MsgKind::kFingerprint;
      t->connection(1)->post(&s);
      ASSERT_TRUE(drive(t, {&s}).isOk());
    } else {
      Request in = recvReq(0, 4, &buf);
      t->connection(0)->post(&in);
      Status st = drive(t, {&in});
      EXPECT_EQ(st.code(), StatusCode::kRemoteError);
      EXPECT_NE(st.message().find("sent fingerprint #4"), std::string::npos) << st.message();
    }
  });
}

// A peer with the right token that sends a corrupt frame: RemoteError naming it, nothing
// written out of bounds.
TEST(TcpTransport, CorruptFrameIsProtocolError) {
  SocketsEnv env(1);
  for (int variant = 0; variant < 2; ++variant) {
    std::unique_ptr<Transport> t1;
    net::Fd fd;
    ASSERT_NO_FATAL_FAILURE(connectFakeRank0(&t1, &fd));
    RawFrame frame;
    frame.msgBytes = 100;
    frame.len = 200;  // longer than the message
    if (variant == 1) {
      frame.magic = 0xdeadbeef;
      frame.len = 100;
    }
    std::vector<uint8_t> junk(256, 0xAB);
    ASSERT_TRUE(net::writeFull(fd.get(), &frame, sizeof(frame), Clock::now() + 5s).isOk());
    ASSERT_TRUE(net::writeFull(fd.get(), junk.data(), junk.size(), Clock::now() + 5s).isOk());
    std::vector<uint8_t> buf(100, 0xEE);
    Request in = recvReq(0, 0, &buf);
    t1->connection(0)->post(&in);
    Status st = drive(t1.get(), {&in}, 5s);
    EXPECT_EQ(st.code(), StatusCode::kRemoteError) << st.toString();
    EXPECT_NE(st.message().find("rank 0 sent a corrupt frame"), std::string::npos) << st.message();
    for (uint8_t c : buf) ASSERT_EQ(c, 0xEE);
  }
}

TEST(TcpTransport, WrongTokenIsRefused) {
  auto store = makeHashStore();
  std::vector<Status> results(2);
  runRanks(2, [&](int r) {
    auto t = createTcpTransport(makeSetup(r, 2, store, 1500ms, r == 0 ? kToken : kToken + 1));
    results[static_cast<size_t>(r)] = t.status();
  });
  // Rank 1 accepts: it never sees a valid rank 0 and times out naming it.
  EXPECT_EQ(results[1].code(), StatusCode::kTimeout) << results[1].toString();
  EXPECT_NE(results[1].message().find("connections from rank(s) 0"), std::string::npos)
      << results[1].message();
  // Rank 0 dials and is refused.
  EXPECT_FALSE(results[0].isOk());
  EXPECT_NE(results[0].message().find("rank 1"), std::string::npos) << results[0].message();
}

// A stranger connecting first (and sending junk) neither joins nor breaks the job.
TEST(TcpTransport, StrangerDoesNotBreakSetup) {
  auto store = makeHashStore();
  std::vector<std::unique_ptr<Transport>> ts(2);
  std::thread rank1([&] {
    auto t = createTcpTransport(makeSetup(1, 2, store));
    ASSERT_TRUE(t.isOk()) << t.status().toString();
    ts[1] = std::move(t.value());
  });
  auto addr = store->get("tcp/addr/1", 10s);
  ASSERT_TRUE(addr.isOk());
  std::string text(addr->begin(), addr->end());
  int port = std::stoi(text.substr(text.rfind(':') + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  const char junk[40] = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_EQ(write(fd, junk, sizeof(junk)), static_cast<ssize_t>(sizeof(junk)));
  std::thread rank0([&] {
    auto t = createTcpTransport(makeSetup(0, 2, store));
    ASSERT_TRUE(t.isOk()) << t.status().toString();
    ts[0] = std::move(t.value());
  });
  rank0.join();
  rank1.join();
  close(fd);
  ASSERT_TRUE(ts[0] && ts[1]);
  std::vector<uint8_t> a(100, 5), b(100, 0);
  Request s = sendReq(1, 1, a);
  Request in = recvReq(0, 1, &b);
  ts[0]->connection(1)->post(&s);
  ts[1]->connection(0)->post(&in);
  runRanks(2, [&](int r) {
    ASSERT_TRUE(drive(ts[static_cast<size_t>(r)].get(), {r == 0 ? &s : &in}).isOk());
  });
  EXPECT_EQ(a, b);
}

TEST(TcpTransport, NotifyErrorReachesPendingReceive) {
  auto ts = connectAll(2);
  std::atomic<bool> posted{false};
  runRanks(2, [&](int r) {
    Transport* t = ts[static_cast<size_t>(r)].get();
    if (r == 0) {
      while (!posted) std::this_thread::sleep_for(1ms);
      t->notifyError("rank 0 ran out of memory in allReduce #12");
    } else {
      std::vector<uint8_t> buf(4096);
      Request in = recvReq(0, 12, &buf);
      t->connection(0)->post(&in);
      posted = true;
      Status st = drive(t, {&in});
      EXPECT_EQ(st.code(), StatusCode::kRemoteError);
      EXPECT_EQ(st.message(), "rank 0 reported: rank 0 ran out of memory in allReduce #12");
    }
  });
}

// The error frame overtakes sends that have not started (their source is a receive that
// never completes).
TEST(TcpTransport, NotifyErrorOvertakesStalledSend) {
  auto ts = connectAll(3);
  std::atomic<bool> done{false};
  runRanks(3, [&](int r) {
    Transport* t = ts[static_cast<size_t>(r)].get();
    std::vector<uint8_t> buf(1 << 20, 1);
    if (r == 0) {
      while (!done) std::this_thread::sleep_for(1ms);
    } else if (r == 1) {
      Request in = recvReq(0, 0, &buf);  // rank 0 never sends
      Request out = sendReq(2, 0, buf);
      out.after = &in;
      t->connection(0)->post(&in);
      t->connection(2)->post(&out);
      bool p = false;
      for (int i = 0; i < 20; ++i) ASSERT_TRUE(t->progress(&p).isOk());
      EXPECT_FALSE(out.started);
      t->notifyError("stalled rank gives up");
      EXPECT_FALSE(t->progress(&p).isOk());  // this rank's communicator is done for
      while (!done) std::this_thread::sleep_for(1ms);
    } else {
      Request in = recvReq(1, 0, &buf);
      t->connection(1)->post(&in);
      Status st = drive(t, {&in}, 10s);
      EXPECT_EQ(st.code(), StatusCode::kRemoteError) << st.toString();
      EXPECT_EQ(st.message(), "rank 1 reported: stalled rank gives up");
      done = true;
    }
  });
}

TEST(TcpTransport, ClosedPeerFailsPendingAndLaterRequests) {
  auto ts = connectAll(3);
  std::atomic<int> phase{0};
  runRanks(3, [&](int r) {
    Transport* t = ts[static_cast<size_t>(r)].get();
    std::vector<uint8_t> buf(1000);
    if (r == 0) {
      while (phase.load() < 2) std::this_thread::sleep_for(1ms);
      ts[0].reset();  // closes every socket of rank 0
    } else if (r == 1) {
      // Waits on rank 0 when it goes away.
      Request in = recvReq(0, 1, &buf);
      t->connection(0)->post(&in);
      ++phase;
      Status st = drive(t, {&in});
      EXPECT_EQ(st.code(), StatusCode::kRemoteError);
      EXPECT_EQ(st.message(), "connection to rank 0 lost (rank 0 died or closed its communicator)");
    } else {
      // Nothing pending when rank 0 goes away: fine until something is posted to it.
      ++phase;
      auto end = Clock::now() + 300ms;
      while (Clock::now() < end) {
        bool p = false;
        ASSERT_TRUE(t->progress(&p).isOk());
        ASSERT_TRUE(t->block(Clock::now() + 10ms).isOk());
      }
      Request s = sendReq(0, 1, buf);
      t->connection(0)->post(&s);
      Status st = drive(t, {&s});
      EXPECT_EQ(st.code(), StatusCode::kRemoteError) << st.toString();
      EXPECT_NE(st.message().find("connection to rank 0 lost"), std::string::npos);
    }
  });
}

}  // namespace
}  // namespace braid::tcptest

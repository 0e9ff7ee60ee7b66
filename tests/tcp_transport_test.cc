// Data-path tests of the TCP transport, ranks as threads of one process over loopback:
// striping, reduce receives, streaming forwarding chains, small-frame batching, wakeups, and
// informational throughput and latency numbers.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>

#include "tcp_test_util.h"

namespace braid::tcptest {
namespace {

const std::vector<size_t> kSizes = {0, 1, 1000, (3u << 20) + 7};

// Every rank sends every size to each of `targets(rank)` and receives from `sources(rank)`.
void exchange(int n, int sockets, const std::function<std::vector<int>(int)>& targets,
              const std::function<std::vector<int>(int)>& sources) {
  SocketsEnv env(sockets);
  auto ts = connectAll(n);
  ASSERT_EQ(ts.size(), static_cast<size_t>(n));
  runRanks(n, [&](int r) {
    Transport* t = ts[static_cast<size_t>(r)].get();
    std::vector<std::vector<uint8_t>> out, in;
    std::vector<Request> reqs;
    std::vector<std::pair<int, size_t>> inInfo;
    size_t count = (targets(r).size() + sources(r).size()) * kSizes.size();
    reqs.reserve(count);
    out.reserve(count);
    in.reserve(count);
    for (int to : targets(r)) {
      for (size_t m = 0; m < kSizes.size(); ++m) {
        auto& b = out.emplace_back(kSizes[m]);
        for (size_t i = 0; i < b.size(); ++i) b[i] = pattern(r, to, m, i);
        reqs.push_back(sendReq(to, m, b));
      }
    }
    for (int from : sources(r)) {
      for (size_t m = 0; m < kSizes.size(); ++m) {
        auto& b = in.emplace_back(kSizes[m], 0xEE);
        reqs.push_back(recvReq(from, m, &b));
        inInfo.emplace_back(from, m);
      }
    }
    std::vector<Request*> ptrs;
    for (auto& q : reqs) {
      t->connection(q.peer)->post(&q);
      ptrs.push_back(&q);
    }
    Status st = drive(t, ptrs);
    ASSERT_TRUE(st.isOk()) << "rank " << r << ": " << st.toString();
    for (size_t k = 0; k < in.size(); ++k) {
      auto [from, m] = inInfo[k];
      for (size_t i = 0; i < in[k].size(); ++i) {
        if (in[k][i] != pattern(from, r, m, i)) {
          FAIL() << "rank " << r << " from " << from << " msg " << m << " byte " << i;
        }
      }
    }
    for (auto& q : reqs) EXPECT_EQ(q.done, q.bytes);
    EXPECT_FALSE(t->connection(r == 0 ? 1 : 0)->busy());
  });
}

std::vector<int> next(int r, int n) { return {(r + 1) % n}; }
std::vector<int> prev(int r, int n) { return {(r + n - 1) % n}; }
std::vector<int> others(int r, int n) {
  std::vector<int> v;
  for (int p = 0; p < n; ++p) {
    if (p != r) v.push_back(p);
  }
  return v;
}

TEST(TcpTransport, RingTwoRanks) {
  exchange(
      2, 2, [](int r) { return next(r, 2); }, [](int r) { return prev(r, 2); });
}

TEST(TcpTransport, RingFourRanksOneSocket) {
  exchange(
      4, 1, [](int r) { return next(r, 4); }, [](int r) { return prev(r, 4); });
}

TEST(TcpTransport, AllToAllFourRanksThreeSockets) {
  exchange(
      4, 3, [](int r) { return others(r, 4); }, [](int r) { return others(r, 4); });
}

TEST(TcpTransport, AllToAllTwoRanksDefaultSockets) {
  exchange(
      2, 2, [](int r) { return others(r, 2); }, [](int r) { return others(r, 2); });
}

// A reduce chain: rank 0 sends its vector to rank 1, which adds its own while forwarding the
// partial sums to rank 2 (send after the reduce receive), which adds its own: the ring
// allreduce's reduce-scatter step. Rank 2 also checks an out-of-place reduce.
void reduceChain(int sockets, size_t elems) {
  SocketsEnv env(sockets);
  auto ts = connectAll(3);
  runRanks(3, [&](int r) {
    Transport* t = ts[static_cast<size_t>(r)].get();
    std::vector<int32_t> mine(elems);
    for (size_t i = 0; i < elems; ++i) mine[i] = value(r, i);
    size_t bytes = elems * sizeof(int32_t);
    auto* raw = reinterpret_cast<uint8_t*>(mine.data());
    if (r == 0) {
      Request s;
      s.peer = 1;
      s.seq = 5;
      s.bytes = bytes;
      s.src = raw;
      t->connection(1)->post(&s);
      ASSERT_TRUE(drive(t, {&s}).isOk());
    } else if (r == 1) {
      Request in;
      in.type = Request::Type::kRecv;
      in.peer = 0;
      in.seq = 5;
      in.bytes = bytes;
      in.dst = raw;
      in.local = raw;  // in place
      in.reduce = sumInt32;
      in.elemSize = sizeof(int32_t);
      Request out;
      out.peer = 2;
      out.seq = 5;
      out.bytes = bytes;
      out.src = raw;
      out.after = &in;
      t->connection(0)->post(&in);
      t->connection(2)->post(&out);
      Status st = drive(t, {&in, &out});
      ASSERT_TRUE(st.isOk()) << st.toString();
    } else {
      std::vector<int32_t> result(elems, -1);
      Request in;
      in.type = Request::Type::kRecv;
      in.peer = 1;
      in.seq = 5;
      in.bytes = bytes;
      in.dst = reinterpret_cast<uint8_t*>(result.data());
      in.local = raw;  // out of place
      in.reduce = sumInt32;
      in.elemSize = sizeof(int32_t);
      t->connection(1)->post(&in);
      Status st = drive(t, {&in});
      ASSERT_TRUE(st.isOk()) << st.toString();
      for (size_t i = 0; i < elems; ++i) {
        int32_t want = value(0, i) + value(1, i) + value(2, i);
        if (result[i] != want) FAIL() << "element " << i << ": " << result[i] << " != " << want;
      }
      if (elems > 0) {
        EXPECT_EQ(mine[0], value(2, 0));  // local untouched
      }
    }
  });
}

TEST(TcpTransport, ReduceOneSocket) {
  reduceChain(1, 1);
  reduceChain(1, 1000);
  reduceChain(1, (3u << 20) / 4 + 7);
}

TEST(TcpTransport, ReduceThreeSockets) {
  reduceChain(3, 0);
  reduceChain(3, 1000);
  reduceChain(3, (3u << 20) / 4 + 7);
}

// Hundreds of small frames in flight (batched in one read), plain and reduce receives mixed,
// half of them posted only after their frames arrived (headers wait for their receive).
TEST(TcpTransport, ManySmallMessagesLatePosts) {
  auto ts = connectAll(2);
  const int count = 400;
  auto sizeOf = [](int i) { return static_cast<size_t>((i * 37) % 3000) / 4 * 4; };
  runRanks(2, [&](int r) {
    Transport* t = ts[static_cast<size_t>(r)].get();
    std::vector<std::vector<uint8_t>> bufs;
    std::vector<std::vector<int32_t>> ints;
    for (int i = 0; i < count; ++i) {
      size_t n = sizeOf(i) / 4;
      ints.emplace_back(n);
      for (size_t k = 0; k < n; ++k) ints.back()[k] = value(r, k + static_cast<size_t>(i));
    }
    std::vector<Request> reqs(count);
    for (int i = 0; i < count; ++i) {
      Request& q = reqs[static_cast<size_t>(i)];
      q.peer = 1 - r;
      q.seq = static_cast<uint64_t>(i);
      q.bytes = sizeOf(i);
      if (r == 0) {
        q.src = reinterpret_cast<const uint8_t*>(ints[static_cast<size_t>(i)].data());
      } else {
        q.type = Request::Type::kRecv;
        q.dst = reinterpret_cast<uint8_t*>(ints[static_cast<size_t>(i)].data());
        if (i % 2 == 1) {
          q.local = q.dst;
          q.reduce = sumInt32;
          q.elemSize = 4;
        }
      }
    }
    std::vector<Request*> ptrs;
    for (auto& q : reqs) ptrs.push_back(&q);
    if (r == 0) {
      for (auto& q : reqs) t->connection(1)->post(&q);
      ASSERT_TRUE(drive(t, ptrs).isOk());
      return;
    }
    std::vector<Request*> first(ptrs.begin(), ptrs.begin() + count / 2);
    for (Request* q : first) t->connection(0)->post(q);
    ASSERT_TRUE(drive(t, first).isOk());
    std::this_thread::sleep_for(20ms);
    bool p = false;
    ASSERT_TRUE(t->progress(&p).isOk());
    for (size_t i = count / 2; i < ptrs.size(); ++i) t->connection(0)->post(ptrs[i]);
    ASSERT_TRUE(drive(t, ptrs).isOk());
    for (int i = 0; i < count; ++i) {
      const auto& v = ints[static_cast<size_t>(i)];
      for (size_t k = 0; k < v.size(); ++k) {
        int32_t want = value(0, k + static_cast<size_t>(i)) +
                       (i % 2 == 1 ? value(1, k + static_cast<size_t>(i)) : 0);
        if (v[k] != want) FAIL() << "message " << i << " element " << k;
      }
    }
  });
}

// rank 0 -> rank 1 -> rank 2: rank 1 forwards what it receives while it is still receiving.
TEST(TcpTransport, ForwardingChain) {
  auto ts = connectAll(3);
  const size_t bytes = 8u << 20;
  std::atomic<bool> overlapped{false};
  runRanks(3, [&](int r) {
    Transport* t = ts[static_cast<size_t>(r)].get();
    std::vector<uint8_t> buf(bytes, 0);
    if (r == 0) {
      for (size_t i = 0; i < bytes; ++i) buf[i] = pattern(0, 2, 9, i);
      Request s = sendReq(1, 9, buf);
      t->connection(1)->post(&s);
      ASSERT_TRUE(drive(t, {&s}).isOk());
    } else if (r == 1) {
      Request in = recvReq(0, 9, &buf);
      Request out = sendReq(2, 9, buf);
      out.after = &in;
      t->connection(0)->post(&in);
      t->connection(2)->post(&out);
      auto end = Clock::now() + 15s;
      while (!(in.complete && out.complete) && Clock::now() < end) {
        bool p = false;
        ASSERT_TRUE(t->progress(&p).isOk());
        if (out.done > 0 && !in.complete) overlapped = true;
        ASSERT_LE(out.done, in.done);
        if (!p) {
          ASSERT_TRUE(t->block(Clock::now() + 10ms).isOk());
        }
      }
      ASSERT_TRUE(in.complete && out.complete);
    } else {
      Request in = recvReq(1, 9, &buf);
      t->connection(1)->post(&in);
      ASSERT_TRUE(drive(t, {&in}).isOk());
      for (size_t i = 0; i < bytes; ++i) {
        if (buf[i] != pattern(0, 2, 9, i)) FAIL() << "byte " << i;
      }
    }
  });
  std::printf("forwarding overlapped the receive: %s\n", overlapped ? "yes" : "no");
}

// A reduce receive fed a few bytes at a time: partial elements carry over between reads.
TEST(TcpTransport, ReduceFromTrickle) {
  SocketsEnv env(1);
  std::unique_ptr<Transport> t1;
  net::Fd fd;
  ASSERT_NO_FATAL_FAILURE(connectFakeRank0(&t1, &fd));
  const size_t elems = 1000;
  std::vector<int32_t> theirs(elems), mine(elems);
  for (size_t i = 0; i < elems; ++i) {
    theirs[i] = value(0, i);
    mine[i] = value(1, i);
  }
  Request in;
  in.type = Request::Type::kRecv;
  in.peer = 0;
  in.bytes = elems * 4;
  in.dst = reinterpret_cast<uint8_t*>(mine.data());
  in.local = in.dst;
  in.reduce = sumInt32;
  in.elemSize = 4;
  t1->connection(0)->post(&in);
  std::thread writer([&] {
    RawFrame frame;
    frame.msgBytes = frame.len = in.bytes;
    std::vector<uint8_t> stream(sizeof(frame) + in.bytes);
    std::memcpy(stream.data(), &frame, sizeof(frame));
    std::memcpy(stream.data() + sizeof(frame), theirs.data(), in.bytes);
    for (size_t at = 0; at < stream.size(); at += 7) {
      size_t n = std::min<size_t>(7, stream.size() - at);
      ASSERT_TRUE(net::writeFull(fd.get(), stream.data() + at, n, Clock::now() + 5s).isOk());
      std::this_thread::sleep_for(20us);
    }
  });
  size_t lastDone = 0;
  auto end = Clock::now() + 10s;
  while (!in.complete && Clock::now() < end) {
    bool p = false;
    ASSERT_TRUE(t1->progress(&p).isOk());
    ASSERT_EQ(in.done % 4, 0u);  // done only counts whole reduced elements
    ASSERT_GE(in.done, lastDone);
    lastDone = in.done;
  }
  writer.join();
  ASSERT_TRUE(in.complete);
  for (size_t i = 0; i < elems; ++i) ASSERT_EQ(mine[i], value(0, i) + value(1, i)) << i;
}

TEST(TcpTransport, WakeupInterruptsBlock) {
  auto ts = connectAll(2);
  auto start = Clock::now();
  std::thread waker([&] {
    std::this_thread::sleep_for(20ms);
    ts[0]->wakeup();
  });
  ASSERT_TRUE(ts[0]->block(Clock::now() + 5s).isOk());
  waker.join();
  EXPECT_LT(Clock::now() - start, 2s);
  // A wakeup that a progress() call consumed still makes the next block() return.
  ts[0]->wakeup();
  bool p = false;
  ASSERT_TRUE(ts[0]->progress(&p).isOk());
  start = Clock::now();
  ASSERT_TRUE(ts[0]->block(Clock::now() + 5s).isOk());
  EXPECT_LT(Clock::now() - start, 2s);
  // Nothing to do: block() waits until `until`.
  start = Clock::now();
  ASSERT_TRUE(ts[0]->block(Clock::now() + 30ms).isOk());
  EXPECT_GE(Clock::now() - start, 25ms);
}

// One-way bandwidth over loopback (informational).
TEST(TcpTransport, Throughput) {
  SocketsEnv env(2);
  auto ts = connectAll(2);
  const size_t bytes = 256u << 20;
  std::vector<uint8_t> src(bytes, 1), dst(bytes, 0);
  double seconds = 0;
  runRanks(2, [&](int r) {
    Transport* t = ts[static_cast<size_t>(r)].get();
    for (int iter = 0; iter < 2; ++iter) {
      Request q = r == 0 ? sendReq(1, 100 + iter, src) : recvReq(0, 100 + iter, &dst);
      auto start = Clock::now();
      t->connection(1 - r)->post(&q);
      ASSERT_TRUE(drive(t, {&q}).isOk());
      if (r == 1 && iter == 1)
        seconds = std::chrono::duration<double>(Clock::now() - start).count();
    }
  });
  EXPECT_EQ(dst[bytes - 1], 1);
  std::printf("256 MiB one-way over 2 sockets: %.2f GB/s\n",
              static_cast<double>(bytes) / seconds / 1e9);
}

// Small-message round trips (informational; a regression in batching or blocking shows here).
TEST(TcpTransport, PingPongLatency) {
  auto ts = connectAll(2);
  const int iters = 2000;
  double seconds = 0;
  runRanks(2, [&](int r) {
    Transport* t = ts[static_cast<size_t>(r)].get();
    std::vector<uint8_t> a(8, static_cast<uint8_t>(r)), b(8);
    auto start = Clock::now();
    for (int i = 0; i < iters; ++i) {
      Request s = sendReq(1 - r, static_cast<uint64_t>(i), a);
      Request in = recvReq(1 - r, static_cast<uint64_t>(i), &b);
      if (r == 0) {
        t->connection(1)->post(&s);
        t->connection(1)->post(&in);
        ASSERT_TRUE(drive(t, {&s, &in}).isOk());
      } else {
        t->connection(0)->post(&in);
        ASSERT_TRUE(drive(t, {&in}).isOk());
        t->connection(0)->post(&s);
        ASSERT_TRUE(drive(t, {&s}).isOk());
      }
    }
    if (r == 0) seconds = std::chrono::duration<double>(Clock::now() - start).count();
  });
  std::printf("8-byte round trip: %.1f us\n", seconds / iters * 1e6);
}

}  // namespace
}  // namespace braid::tcptest

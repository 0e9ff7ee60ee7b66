// Errors that must never hang or corrupt: bad arguments, ranks that disagree about a
// collective's arguments or order, timeouts naming the silent rank, abort.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <vector>

#include "support/ranks.h"

namespace braid {
namespace {

using std::chrono::milliseconds;
using testing::runRanks;

class Errors : public ::testing::TestWithParam<std::string> {};

TEST_P(Errors, BadArgumentsAreInvalidArgumentNamingTheArgument) {
  runRanks(2, GetParam(), [&](Communicator& comm) {
    std::vector<float> a(16), b(16);
    auto expectInvalid = [&](Status s, const std::string& mentions) {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.toString();
      EXPECT_NE(s.message().find(mentions), std::string::npos) << s.toString();
    };
    expectInvalid(comm.allReduce(nullptr, b.data(), 4, DataType::kFloat32, ReduceOp::kSum),
                  "send buffer is null");
    expectInvalid(comm.allReduce(a.data(), nullptr, 4, DataType::kFloat32, ReduceOp::kSum),
                  "recv buffer is null");
    expectInvalid(comm.allReduce(a.data(), b.data(), 4, static_cast<DataType>(42), ReduceOp::kSum),
                  "unknown dtype");
    expectInvalid(
        comm.allReduce(a.data(), b.data(), 4, DataType::kFloat32, static_cast<ReduceOp>(9)),
        "unknown op");
    expectInvalid(comm.broadcast(a.data(), b.data(), 4, DataType::kFloat32, 2),
                  "root 2 is out of range");
    expectInvalid(comm.reduce(a.data(), b.data(), 4, DataType::kFloat32, ReduceOp::kMax, -1),
                  "root -1");
    expectInvalid(comm.send(a.data(), 4, DataType::kFloat32, 5), "peer 5 is out of range");
    expectInvalid(comm.recv(a.data(), 4, DataType::kFloat32, comm.rank()), "is this rank");
    expectInvalid(comm.allReduce(a.data(), b.data(), std::numeric_limits<size_t>::max() / 2,
                                 DataType::kFloat32, ReduceOp::kSum),
                  "overflows");
    expectInvalid(comm.allGather(a.data(), a.data() + 1, 4, DataType::kFloat32), "overlap");
    // Null buffers are fine with count 0, and the communicator is still healthy after all that.
    EXPECT_TRUE(comm.allReduce(nullptr, nullptr, 0, DataType::kFloat32, ReduceOp::kSum).isOk());
    float x = 1, y = 0;
    ASSERT_TRUE(comm.allReduce(&x, &y, 1, DataType::kFloat32, ReduceOp::kSum).isOk());
    EXPECT_EQ(y, 2.0f);
    // Async calls report invalid arguments through their Work.
    Work w = comm.allReduceAsync(nullptr, b.data(), 4, DataType::kFloat32, ReduceOp::kSum);
    EXPECT_EQ(w.wait().code(), StatusCode::kInvalidArgument);
  });
}

// Every rank's status from one call, indexed by rank, plus how long the slowest took.
struct Outcome {
  std::vector<Status> status;
  double seconds = 0;
};

Outcome runMismatch(const std::string& transport, int n,
                    const std::function<Status(Communicator&)>& call) {
  Outcome out;
  out.status.resize(n);
  auto t0 = std::chrono::steady_clock::now();
  runRanks(
      n, transport, [&](Communicator& comm) { out.status[comm.rank()] = call(comm); },
      milliseconds(20000));
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

TEST_P(Errors, MismatchedCountFailsEveryRankNamingTheDisagreement) {
  for (size_t big : {size_t{64}, size_t{1} << 20}) {
    Outcome o = runMismatch(GetParam(), 4, [&](Communicator& comm) {
      std::vector<float> buf(big, 1.0f);
      size_t count = comm.rank() == 2 ? big / 2 : big;
      return comm.allReduce(buf.data(), buf.data(), count, DataType::kFloat32, ReduceOp::kSum);
    });
    EXPECT_LT(o.seconds, 10.0) << "a mismatch must not wait for the timeout";
    for (int r = 0; r < 4; ++r) {
      const Status& s = o.status[r];
      EXPECT_EQ(s.code(), StatusCode::kRemoteError) << "rank " << r << ": " << s.toString();
      EXPECT_EQ(s.message().find("timed out"), std::string::npos) << s.toString();
    }
    // Every rank says the ranks disagree; the others name rank 2 (directly or in a report).
    for (int r = 0; r < 4; ++r) {
      const std::string& m = o.status[r].message();
      EXPECT_NE(m.find("disagree"), std::string::npos) << "rank " << r << ": " << m;
      if (r != 2) {
        EXPECT_NE(m.find("rank 2"), std::string::npos) << "rank " << r << ": " << m;
      }
    }
  }
}

TEST_P(Errors, MismatchedOrderFails) {
  Outcome o = runMismatch(GetParam(), 3, [&](Communicator& comm) {
    std::vector<int32_t> buf(1000, 1);
    if (comm.rank() == 0) {
      Status s = comm.broadcast(buf.data(), buf.data(), buf.size(), DataType::kInt32, 0);
      if (!s.isOk()) return s;
      return comm.allReduce(buf.data(), buf.data(), buf.size(), DataType::kInt32, ReduceOp::kSum);
    }
    Status s = comm.allReduce(buf.data(), buf.data(), buf.size(), DataType::kInt32, ReduceOp::kSum);
    if (!s.isOk()) return s;
    return comm.broadcast(buf.data(), buf.data(), buf.size(), DataType::kInt32, 0);
  });
  EXPECT_LT(o.seconds, 10.0);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(o.status[r].code(), StatusCode::kRemoteError) << o.status[r].toString();
  }
  EXPECT_NE(o.status[0].message().find("broadcast"), std::string::npos) << o.status[0].toString();
}

TEST_P(Errors, RanksConfiguredForDifferentAlgorithmsFailInsteadOfHanging) {
  Outcome o = runMismatch(GetParam(), 3, [&](Communicator& comm) {
    if (comm.rank() == 1) {
      Status s = comm.setAlgorithm(CollectiveKind::kAllReduce, "ring");
      if (!s.isOk()) return s;
    }
    std::vector<float> buf(1000, 1);
    return comm.allReduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, ReduceOp::kSum);
  });
  EXPECT_LT(o.seconds, 10.0);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(o.status[r].code(), StatusCode::kRemoteError) << o.status[r].toString();
    EXPECT_NE(o.status[r].message().find("disagree"), std::string::npos) << o.status[r].toString();
  }
  EXPECT_NE(o.status[1].message().find("with ring"), std::string::npos) << o.status[1].toString();
}

TEST_P(Errors, MismatchedRootDoesNotHang) {
  // Two ranks each believing they are the root of a reduce would both wait to receive.
  Outcome o = runMismatch(GetParam(), 2, [&](Communicator& comm) {
    std::vector<float> a(8, 1), b(8);
    return comm.reduce(a.data(), b.data(), 8, DataType::kFloat32, ReduceOp::kSum, comm.rank());
  });
  EXPECT_LT(o.seconds, 10.0);
  for (const Status& s : o.status) {
    EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.toString();
    EXPECT_NE(s.message().find("root="), std::string::npos) << s.toString();
  }
}

TEST_P(Errors, TimeoutNamesTheSilentRankAndLaterCallsFail) {
  std::atomic<bool> done{false};
  runRanks(
      3, GetParam(),
      [&](Communicator& comm) {
        std::vector<float> buf(100, 1);
        if (comm.rank() == 1) {
          // Rank 1 never joins; it waits for the others to give up.
          while (!done.load()) std::this_thread::sleep_for(milliseconds(5));
          return;
        }
        Status s =
            comm.allReduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, ReduceOp::kSum);
        if (s.code() == StatusCode::kTimeout) {
          EXPECT_NE(s.message().find("rank(s) 1"), std::string::npos) << s.toString();
        } else {
          // The other survivor may hear about the timeout from its peer first.
          EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.toString();
        }
        Status later = comm.barrier();
        EXPECT_FALSE(later.isOk());
        EXPECT_NE(later.message().find("earlier error"), std::string::npos) << later.toString();
        if (comm.rank() == 0) done.store(true);
      },
      milliseconds(1500));
}

TEST_P(Errors, AbortReturnsAndFailsPendingCalls) {
  runRanks(
      2, GetParam(),
      [&](Communicator& comm) {
        std::vector<float> buf(1000, 1);
        if (comm.rank() == 0) {
          // Rank 1 never arrives; abort from another thread ends the wait.
          Work w = comm.allReduceAsync(buf.data(), buf.data(), buf.size(), DataType::kFloat32,
                                       ReduceOp::kSum);
          std::this_thread::sleep_for(milliseconds(200));
          auto t0 = std::chrono::steady_clock::now();
          comm.abort();
          Status s = w.wait();
          EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                    2.0);
          EXPECT_EQ(s.code(), StatusCode::kAborted) << s.toString();
          EXPECT_EQ(comm.barrier().code(), StatusCode::kAborted);
        } else {
          std::this_thread::sleep_for(milliseconds(400));
          // The peer's abort reaches this rank as an error, not a hang.
          Status s = comm.allReduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32,
                                    ReduceOp::kSum);
          EXPECT_FALSE(s.isOk());
          EXPECT_NE(s.message().find("aborted"), std::string::npos) << s.toString();
        }
      },
      milliseconds(10000));
}

INSTANTIATE_TEST_SUITE_P(Transports, Errors, ::testing::Values("shm", "tcp"));

}  // namespace
}  // namespace braid

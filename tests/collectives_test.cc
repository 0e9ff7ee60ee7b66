// The exact-correctness matrix: every collective over shm and tcp, world sizes 1..8 (primes and
// non-powers of two included), counts 0, 1, 7, 1023 and 1048579, every dtype and op, in place
// and out of place. Inputs reduce exactly in any order, so results compare with zero tolerance.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "exact_data.h"
#include "params.h"
#include "support/ranks.h"

namespace braid {
namespace {

using testing::runRanks;

const std::vector<size_t> kCounts = {0, 1, 7, 1023, 1048579};
const std::vector<int> kWorlds = {1, 2, 3, 4, 5, 7, 8};

std::vector<DataType> allTypes() {
  std::vector<DataType> v;
  for (int t = 0; t < kNumDataTypes; ++t) v.push_back(static_cast<DataType>(t));
  return v;
}
std::vector<ReduceOp> allOps() {
  std::vector<ReduceOp> v;
  for (int o = 0; o < kNumReduceOps; ++o) v.push_back(static_cast<ReduceOp>(o));
  return v;
}

// Expected results are the same on every rank: the first rank thread to ask computes them and
// the others reuse them. Ranks are never more than one collective apart, so a few recent
// entries suffice; shared_ptr keeps an entry alive for a rank still comparing against it.
class SharedExpected {
 public:
  std::shared_ptr<const std::vector<uint8_t>> get(size_t count, DataType t, ReduceOp o, int n) {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_tuple(count, t, o, n);
    for (auto& [k, v] : recent_) {
      if (k == key) return v;
    }
    auto data = std::make_shared<std::vector<uint8_t>>(count * dataTypeSize(t) + 1);
    exact::fillReduced(data->data(), count, t, o, n);
    recent_.emplace_back(key, data);
    if (recent_.size() > 4) recent_.erase(recent_.begin());
    return data;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::tuple<size_t, DataType, ReduceOp, int>,
                        std::shared_ptr<const std::vector<uint8_t>>>>
      recent_;
};

std::string label(const char* what, DataType t, ReduceOp o, size_t count, bool inPlace, int rank) {
  return std::string(what) + " " + std::string(toString(t)) + " " + std::string(toString(o)) +
         " count=" + std::to_string(count) + (inPlace ? " in-place" : " out-of-place") +
         " rank=" + std::to_string(rank);
}

class Collectives : public ::testing::TestWithParam<std::tuple<std::string, int>> {
 protected:
  std::string transport() const { return std::get<0>(GetParam()); }
  int world() const { return std::get<1>(GetParam()); }
};

TEST_P(Collectives, AllReduceEveryTypeOpCountAndPlacement) {
  SharedExpected shared;
  runRanks(world(), transport(), [&](Communicator& comm) {
    const int n = comm.size(), r = comm.rank();
    for (size_t count : kCounts) {
      for (DataType t : allTypes()) {
        const size_t es = dataTypeSize(t);
        std::vector<uint8_t> send(count * es + 1), recv(count * es + 1);
        for (ReduceOp o : allOps()) {
          auto expected = shared.get(count, t, o, n);
          for (bool inPlace : {false, true}) {
            exact::fillInput(send.data(), count, t, o, r, n);
            uint8_t* out = inPlace ? send.data() : recv.data();
            if (!inPlace) std::memset(recv.data(), 0xA5, recv.size());
            Status s = comm.allReduce(send.data(), out, count, t, o);
            ASSERT_TRUE(s.isOk()) << label("allReduce", t, o, count, inPlace, r) << ": "
                                  << s.toString();
            ASSERT_EQ(exact::countMismatches(out, expected->data(), count, t), 0u)
                << label("allReduce", t, o, count, inPlace, r);
          }
        }
      }
    }
  });
}

TEST_P(Collectives, ReduceScatterAndReduce) {
  runRanks(world(), transport(), [&](Communicator& comm) {
    const int n = comm.size(), r = comm.rank();
    for (size_t count : kCounts) {
      // reduceScatter moves n blocks of `count`: keep the largest case affordable.
      size_t rc = count > 100000 ? count / 8 + 1 : count;
      for (DataType t : allTypes()) {
        const size_t es = dataTypeSize(t);
        for (ReduceOp o : allOps()) {
          for (bool inPlace : {false, true}) {
            std::vector<uint8_t> send(rc * n * es + 1), recv(rc * es + 1), expected(rc * es + 1);
            exact::fillInput(send.data(), rc * n, t, o, r, n);
            exact::fillReduced(expected.data(), rc, t, o, n, rc * r);
            uint8_t* out = inPlace ? send.data() + rc * r * es : recv.data();
            Status s = comm.reduceScatter(send.data(), out, rc, t, o);
            ASSERT_TRUE(s.isOk()) << label("reduceScatter", t, o, rc, inPlace, r) << ": "
                                  << s.toString();
            ASSERT_EQ(exact::countMismatches(out, expected.data(), rc, t), 0u)
                << label("reduceScatter", t, o, rc, inPlace, r);

            // reduce to a root that moves with the count.
            const int root = static_cast<int>(count % n);
            std::vector<uint8_t> in(count * es + 1), res(count * es + 1), want;
            exact::fillInput(in.data(), count, t, o, r, n);
            if (r == root) {
              want.resize(count * es + 1);
              exact::fillReduced(want.data(), count, t, o, n);
            }
            uint8_t* dst = inPlace ? in.data() : res.data();
            s = comm.reduce(in.data(), dst, count, t, o, root);
            ASSERT_TRUE(s.isOk()) << label("reduce", t, o, count, inPlace, r) << ": "
                                  << s.toString();
            if (r == root) {
              ASSERT_EQ(exact::countMismatches(dst, want.data(), count, t), 0u)
                  << label("reduce", t, o, count, inPlace, r) << " root=" << root;
            }
          }
        }
      }
    }
  });
}

TEST_P(Collectives, AllGatherBroadcastAllToAll) {
  runRanks(world(), transport(), [&](Communicator& comm) {
    const int n = comm.size(), r = comm.rank();
    for (size_t count : kCounts) {
      size_t per = count > 100000 ? count / 8 + 1 : count;  // n blocks move
      for (DataType t : allTypes()) {
        const size_t es = dataTypeSize(t);
        for (bool inPlace : {false, true}) {
          // allGather: block b of the result is rank b's input.
          std::vector<uint8_t> all(per * n * es + 1), mine(per * es + 1), want(per * n * es + 1);
          for (int b = 0; b < n; ++b) {
            exact::fillInput(want.data() + per * b * es, per, t, ReduceOp::kSum, b, n);
          }
          exact::fillInput(mine.data(), per, t, ReduceOp::kSum, r, n);
          const uint8_t* src = mine.data();
          if (inPlace) {
            std::memcpy(all.data() + per * r * es, mine.data(), per * es);
            src = all.data() + per * r * es;
          }
          Status s = comm.allGather(src, all.data(), per, t);
          ASSERT_TRUE(s.isOk()) << "allGather " << toString(t) << " " << per << ": "
                                << s.toString();
          ASSERT_EQ(exact::countMismatches(all.data(), want.data(), per * n, t), 0u)
              << "allGather " << toString(t) << " count " << per << " rank " << r;

          // broadcast from a root that moves with the count.
          const int root = static_cast<int>((count + 1) % n);
          std::vector<uint8_t> buf(count * es + 1), out(count * es + 1), ref(count * es + 1);
          exact::fillInput(ref.data(), count, t, ReduceOp::kMin, root, n);
          if (r == root) exact::fillInput(buf.data(), count, t, ReduceOp::kMin, root, n);
          uint8_t* dst = inPlace ? buf.data() : out.data();
          s = comm.broadcast(buf.data(), dst, count, t, root);
          ASSERT_TRUE(s.isOk()) << "broadcast: " << s.toString();
          ASSERT_EQ(exact::countMismatches(dst, ref.data(), count, t), 0u)
              << "broadcast " << toString(t) << " count " << count << " root " << root;

          // allToAll: block i of rank r's result is block r of rank i's input.
          std::vector<uint8_t> a2aSend(per * n * es + 1), a2aRecv(per * n * es + 1),
              a2aWant(per * n * es + 1);
          exact::fillInput(a2aSend.data(), per * n, t, ReduceOp::kMax, r, n);
          for (int i = 0; i < n; ++i) {
            exact::fillInput(a2aWant.data() + per * i * es, per, t, ReduceOp::kMax, i, n, per * r);
          }
          uint8_t* a2aOut = inPlace ? a2aSend.data() : a2aRecv.data();
          s = comm.allToAll(a2aSend.data(), a2aOut, per, t);
          ASSERT_TRUE(s.isOk()) << "allToAll: " << s.toString();
          ASSERT_EQ(exact::countMismatches(a2aOut, a2aWant.data(), per * n, t), 0u)
              << "allToAll " << toString(t) << " count " << per << " rank " << r;
        }
      }
    }
    ASSERT_TRUE(comm.barrier().isOk());
  });
}

TEST_P(Collectives, SendRecvRingAndAsyncOrder) {
  runRanks(world(), transport(), [&](Communicator& comm) {
    const int n = comm.size(), r = comm.rank();
    if (n == 1) return;
    for (size_t count : kCounts) {
      std::vector<int32_t> out(count), in(count + 1, -1), want(count);
      exact::fillInput(out.data(), count, DataType::kInt32, ReduceOp::kMax, r, n);
      const int from = (r + n - 1) % n;
      exact::fillInput(want.data(), count, DataType::kInt32, ReduceOp::kMax, from, n);
      // Operations run in call order (as on an NCCL stream), and a large send completes only
      // once its receiver takes the data: even ranks send first, odd ranks receive first.
      if (r % 2 == 0) {
        ASSERT_TRUE(comm.send(out.data(), count, DataType::kInt32, (r + 1) % n).isOk());
        ASSERT_TRUE(comm.recv(in.data(), count, DataType::kInt32, from).isOk());
      } else {
        ASSERT_TRUE(comm.recv(in.data(), count, DataType::kInt32, from).isOk());
        ASSERT_TRUE(comm.send(out.data(), count, DataType::kInt32, (r + 1) % n).isOk());
      }
      ASSERT_EQ(std::memcmp(in.data(), want.data(), count * 4), 0) << "count " << count;
    }
    // Several async collectives in flight complete in order with the right results.
    std::vector<std::vector<float>> bufs(6, std::vector<float>(4099));
    std::vector<Work> works;
    for (size_t k = 0; k < bufs.size(); ++k) {
      for (size_t i = 0; i < bufs[k].size(); ++i) bufs[k][i] = float(r + k + i % 3);
      works.push_back(comm.allReduceAsync(bufs[k].data(), bufs[k].data(), bufs[k].size(),
                                          DataType::kFloat32, ReduceOp::kSum));
    }
    for (size_t k = 0; k < works.size(); ++k) {
      ASSERT_TRUE(works[k].wait().isOk());
      for (size_t i = 0; i < bufs[k].size(); ++i) {
        ASSERT_EQ(bufs[k][i], float(n * (n - 1) / 2 + n * (k + i % 3)));
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Matrix, Collectives,
                         ::testing::Combine(::testing::Values("shm", "tcp"),
                                            ::testing::ValuesIn(kWorlds)),
                         [](const auto& param) {
                           return std::get<0>(param.param) + "_" +
                                  std::to_string(std::get<1>(param.param)) + "ranks";
                         });

}  // namespace
}  // namespace braid

namespace braid {
namespace {

// Every allReduce algorithm braid has, forced, over both transports (the default choice above
// only exercises the one braid picks for each size).
class AllReduceAlgorithms
    : public ::testing::TestWithParam<std::tuple<std::string, int, std::string>> {};

TEST_P(AllReduceAlgorithms, ExactForEveryCountAndPlacement) {
  const auto& [transport, world, algo] = GetParam();
  runRanks(world, transport, [&](Communicator& comm) {
    auto names = comm.algorithms(CollectiveKind::kAllReduce);
    if (std::find(names.begin(), names.end(), algo) == names.end()) return;  // not on this fabric
    ASSERT_TRUE(comm.setAlgorithm(CollectiveKind::kAllReduce, algo).isOk());
    const int n = comm.size(), r = comm.rank();
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1023}, size_t{300007}}) {
      for (DataType t :
           {DataType::kInt8, DataType::kInt64, DataType::kBfloat16, DataType::kFloat32}) {
        const size_t es = dataTypeSize(t);
        std::vector<uint8_t> send(count * es + 1), recv(count * es + 1), want(count * es + 1);
        for (ReduceOp o : allOps()) {
          exact::fillReduced(want.data(), count, t, o, n);
          for (bool inPlace : {false, true}) {
            exact::fillInput(send.data(), count, t, o, r, n);
            uint8_t* out = inPlace ? send.data() : recv.data();
            Status s = comm.allReduce(send.data(), out, count, t, o);
            ASSERT_TRUE(s.isOk()) << algo << " " << label("allReduce", t, o, count, inPlace, r)
                                  << s.toString();
            ASSERT_EQ(exact::countMismatches(out, want.data(), count, t), 0u)
                << algo << " " << label("allReduce", t, o, count, inPlace, r);
          }
        }
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(
    Forced, AllReduceAlgorithms,
    ::testing::Combine(::testing::Values("shm", "tcp"), ::testing::Values(2, 3, 5, 8),
                       ::testing::Values("ring", "oneshot", "shm-oneshot", "shm-twoshot", "tree",
                                         "halving-doubling", "recursive-doubling")),
    [](const auto& param) {
      std::string a = std::get<2>(param.param);
      std::replace(a.begin(), a.end(), '-', '_');
      return std::get<0>(param.param) + "_" + std::to_string(std::get<1>(param.param)) + "ranks_" +
             a;
    });

}  // namespace
}  // namespace braid

namespace braid {
namespace {

// The tree, halving-doubling and recursive-doubling algorithms, forced, for every collective that
// has them: every world size 1..16 at a few counts with fp32 sum, and every dtype and op on 3, 5
// and 8 ranks over both transports. Trees run with small, odd chunks there so that chunk
// boundaries, multi-chunk pipelines and the CPU sums of two-child ranks are all exercised.
struct ForcedCase {
  CollectiveKind kind;
  const char* algo;
};
const ForcedCase kForcedCases[] = {
    {CollectiveKind::kAllReduce, "tree"},
    {CollectiveKind::kAllReduce, "halving-doubling"},
    {CollectiveKind::kAllReduce, "recursive-doubling"},
    {CollectiveKind::kReduceScatter, "halving-doubling"},
    {CollectiveKind::kAllGather, "halving-doubling"},
    {CollectiveKind::kBroadcast, "tree"},
    {CollectiveKind::kReduce, "tree"},
};

// Runs one collective of `count` elements per block (reduceScatter/allGather) or per buffer
// (the others) and checks the result exactly. The root of rooted ones moves with the count.
void runAndCheck(Communicator& comm, CollectiveKind kind, size_t count, DataType t, ReduceOp o,
                 bool inPlace) {
  const int n = comm.size(), r = comm.rank();
  const size_t es = dataTypeSize(t);
  const std::string what = label(toString(kind).data(), t, o, count, inPlace, r);
  Status s;
  switch (kind) {
    case CollectiveKind::kAllReduce: {
      std::vector<uint8_t> send(count * es + 1), recv(count * es + 1), want(count * es + 1);
      exact::fillInput(send.data(), count, t, o, r, n);
      exact::fillReduced(want.data(), count, t, o, n);
      uint8_t* out = inPlace ? send.data() : recv.data();
      s = comm.allReduce(send.data(), out, count, t, o);
      ASSERT_TRUE(s.isOk()) << what << ": " << s.toString();
      ASSERT_EQ(exact::countMismatches(out, want.data(), count, t), 0u) << what;
      break;
    }
    case CollectiveKind::kReduceScatter: {
      std::vector<uint8_t> send(count * n * es + 1), recv(count * es + 1), want(count * es + 1);
      exact::fillInput(send.data(), count * n, t, o, r, n);
      exact::fillReduced(want.data(), count, t, o, n, count * r);
      uint8_t* out = inPlace ? send.data() + count * r * es : recv.data();
      s = comm.reduceScatter(send.data(), out, count, t, o);
      ASSERT_TRUE(s.isOk()) << what << ": " << s.toString();
      ASSERT_EQ(exact::countMismatches(out, want.data(), count, t), 0u) << what;
      break;
    }
    case CollectiveKind::kAllGather: {
      std::vector<uint8_t> all(count * n * es + 1, 0xA5), mine(count * es + 1),
          want(count * n * es + 1);
      for (int b = 0; b < n; ++b) exact::fillInput(want.data() + count * b * es, count, t, o, b, n);
      exact::fillInput(mine.data(), count, t, o, r, n);
      const uint8_t* src = mine.data();
      if (inPlace) {
        std::memcpy(all.data() + count * r * es, mine.data(), count * es);
        src = all.data() + count * r * es;
      }
      s = comm.allGather(src, all.data(), count, t);
      ASSERT_TRUE(s.isOk()) << what << ": " << s.toString();
      ASSERT_EQ(exact::countMismatches(all.data(), want.data(), count * n, t), 0u) << what;
      break;
    }
    case CollectiveKind::kBroadcast: {
      const int root = static_cast<int>(count % n);
      std::vector<uint8_t> buf(count * es + 1, 0xA5), out(count * es + 1, 0xA5),
          want(count * es + 1);
      exact::fillInput(want.data(), count, t, o, root, n);
      if (r == root) exact::fillInput(buf.data(), count, t, o, root, n);
      uint8_t* dst = inPlace ? buf.data() : out.data();
      s = comm.broadcast(buf.data(), dst, count, t, root);
      ASSERT_TRUE(s.isOk()) << what << " root=" << root << ": " << s.toString();
      ASSERT_EQ(exact::countMismatches(dst, want.data(), count, t), 0u) << what << " root=" << root;
      break;
    }
    case CollectiveKind::kReduce: {
      const int root = static_cast<int>((count + 1) % n);
      std::vector<uint8_t> in(count * es + 1), res(count * es + 1), want(count * es + 1);
      exact::fillInput(in.data(), count, t, o, r, n);
      exact::fillReduced(want.data(), count, t, o, n);
      uint8_t* dst = inPlace ? in.data() : res.data();
      s = comm.reduce(in.data(), dst, count, t, o, root);
      ASSERT_TRUE(s.isOk()) << what << " root=" << root << ": " << s.toString();
      if (r == root) {
        ASSERT_EQ(exact::countMismatches(dst, want.data(), count, t), 0u)
            << what << " root=" << root;
      }
      break;
    }
    default:
      FAIL() << "no check for " << toString(kind);
  }
}

// Sets a BRAID_* variable for one test and restores it.
class ScopedParam {
 public:
  ScopedParam(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    setenv(name, value, 1);
    reloadParams();
  }
  ~ScopedParam() {
    if (old_.empty()) {
      unsetenv(name_);
    } else {
      setenv(name_, old_.c_str(), 1);
    }
    reloadParams();
  }

 private:
  const char* name_;
  std::string old_;
};

class ForcedAlgorithms : public ::testing::TestWithParam<std::tuple<std::string, int, int>> {
 protected:
  std::string transport() const { return std::get<0>(GetParam()); }
  int world() const { return std::get<1>(GetParam()); }
  const ForcedCase& forced() const { return kForcedCases[std::get<2>(GetParam())]; }
  // Runs fn on every rank with the case's algorithm forced.
  void run(const std::function<void(Communicator&)>& fn) {
    runRanks(world(), transport(), [&](Communicator& comm) {
      ASSERT_TRUE(comm.setAlgorithm(forced().kind, forced().algo).isOk());
      ASSERT_EQ(comm.algorithmFor(forced().kind, 1000, DataType::kFloat32), forced().algo);
      fn(comm);
    });
  }
};

using EveryWorld = ForcedAlgorithms;
TEST_P(EveryWorld, Float32SumAtSeveralCounts) {
  run([&](Communicator& comm) {
    // 100003 float32 per tree half is two default chunks.
    const bool blocks = forced().kind == CollectiveKind::kReduceScatter ||
                        forced().kind == CollectiveKind::kAllGather;
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{4099}, size_t{100003}}) {
      if (blocks && count > 10000) count = count / 8 + 1;  // n blocks move
      for (bool inPlace : {false, true}) {
        runAndCheck(comm, forced().kind, count, DataType::kFloat32, ReduceOp::kSum, inPlace);
      }
    }
  });
}

using EveryTypeAndOp = ForcedAlgorithms;
TEST_P(EveryTypeAndOp, AtSeveralCountsAndPlacements) {
  ScopedParam chunk("BRAID_TREE_CHUNK_BYTES", "1000");
  run([&](Communicator& comm) {
    const bool reduces =
        forced().kind != CollectiveKind::kAllGather && forced().kind != CollectiveKind::kBroadcast;
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{5003}}) {
      for (DataType t : allTypes()) {
        for (ReduceOp o : reduces ? allOps() : std::vector<ReduceOp>{ReduceOp::kSum}) {
          for (bool inPlace : {false, true}) runAndCheck(comm, forced().kind, count, t, o, inPlace);
        }
      }
    }
  });
}

std::string forcedName(const ::testing::TestParamInfo<std::tuple<std::string, int, int>>& p) {
  const ForcedCase& c = kForcedCases[std::get<2>(p.param)];
  std::string name = std::get<0>(p.param) + "_" + std::to_string(std::get<1>(p.param)) + "ranks_" +
                     std::string(toString(c.kind)) + "_" + c.algo;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Forced, EveryWorld,
                         ::testing::Combine(::testing::Values("shm"), ::testing::Range(1, 17),
                                            ::testing::Range(0, 6)),
                         forcedName);
INSTANTIATE_TEST_SUITE_P(Forced, EveryTypeAndOp,
                         ::testing::Combine(::testing::Values("shm", "tcp"),
                                            ::testing::Values(3, 5, 8), ::testing::Range(0, 6)),
                         forcedName);

}  // namespace
}  // namespace braid

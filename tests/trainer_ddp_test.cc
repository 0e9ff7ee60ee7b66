// The data-parallel driver of braid-train on in-process ranks: bucket planning, overlap of the
// bucket allReduces with backward, the sum of weighted gradients, and whole training runs that
// must not depend on the number of ranks (allReduce, ZeRO-1, uneven shares, accumulation),
// local SGD, and checkpoint/resume. The model is makeTestModel() below.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <numeric>

#include "checkpoint.h"
#include "ddp.h"
#include "plan.h"
#include "support/ranks.h"
#include "testing/tiny_model.h"
#include "train.h"

namespace braid::train {
namespace {

// The model the tests train: the test-only TinyModel. To test the Transformer instead, return
// Model::create(c, seed, threads) here.
std::unique_ptr<Model> makeTestModel(const ModelConfig& c, uint64_t seed, int threads) {
  return testing::makeTinyModel(c, seed);
}

std::vector<int32_t> corpus() {
  std::ifstream in(std::string(BRAID_SOURCE_DIR) + "/README.md", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<int32_t> tokens;
  for (unsigned char c : text) tokens.push_back(c);  // byte tokens
  return tokens;
}

TrainOptions smallRun() {
  TrainOptions o;
  o.model = ModelConfig{256, 8, 1, 2, 8};
  o.batch = 6;
  o.steps = 8;
  o.lr = 1e-2f;
  o.minLr = 1e-3f;
  o.warmup = 2;
  o.bucketMb = 0.004;  // several buckets for a few thousand parameters
  o.firstBucketMb = 0.001;
  o.progress = false;
  o.threads = 1;
  o.makeModel = makeTestModel;
  return o;
}

// Runs o on n in-process ranks; returns each rank's result.
std::vector<TrainResult> runOn(int n, const TrainOptions& o) {
  static const std::vector<int32_t> tokens = corpus();
  std::vector<TrainResult> results(n);
  ::braid::testing::runRanks(n, "shm", [&](Communicator& comm) {
    auto r = train(comm, o, tokens, 256);
    ASSERT_TRUE(r.isOk()) << r.status().toString();
    results[comm.rank()] = std::move(r.value());
  });
  return results;
}

void expectSameLosses(const TrainResult& a, const TrainResult& b, double tolerance) {
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (size_t i = 0; i < a.steps.size(); ++i) {
    EXPECT_EQ(a.steps[i].step, b.steps[i].step);
    double rel = std::abs(a.steps[i].loss - b.steps[i].loss) / std::abs(a.steps[i].loss);
    EXPECT_LE(rel, tolerance) << "step " << a.steps[i].step << ": " << a.steps[i].loss << " vs "
                              << b.steps[i].loss;
  }
}

TEST(Plan, BucketsTileFromTheTopWithASmallFirstBucket) {
  std::vector<ParamTensor> t;
  size_t offset = 0;
  for (size_t n : {1000, 10, 10, 300, 5000, 20, 20}) {
    t.push_back({"t", offset, n, true});
    offset += n;
  }
  auto buckets = planBuckets(t, 100 * 4, 1000 * 4);
  ASSERT_FALSE(buckets.empty());
  EXPECT_EQ(buckets[0].end, offset);
  EXPECT_EQ(buckets[0].tensors, (std::vector<int>{6, 5, 4}));  // closes once >= 100 elements
  size_t end = offset;
  for (const Bucket& b : buckets) {
    EXPECT_EQ(b.end, end);
    end = b.begin;
  }
  EXPECT_EQ(end, 0u);
  EXPECT_EQ(buckets[1].tensors, (std::vector<int>{3, 2, 1, 0}));
  EXPECT_EQ(buckets.size(), 2u);
}

TEST(Plan, BatchSharesAndShardsCoverEverything) {
  for (int ranks : {1, 2, 3, 5, 7}) {
    for (int batch : {ranks, 7, 12, 13}) {
      if (batch < ranks) continue;
      int next = 0;
      double weights = 0;
      for (int r = 0; r < ranks; ++r) {
        BatchShare s = batchShare(batch, r, ranks);
        EXPECT_EQ(s.offset, next);
        EXPECT_GE(s.count, batch / ranks);
        next += s.count;
        weights += s.weight;
      }
      EXPECT_EQ(next, batch);
      EXPECT_NEAR(weights, 1.0, 1e-12);
    }
    for (size_t n : {0, 1, 7, 1000, 1001}) {
      size_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        ShardRange s = shardRange(n, r, ranks);
        EXPECT_EQ(s.begin, next);
        EXPECT_LE(s.end - s.begin, s.shardSize);
        EXPECT_GE(s.shardSize * ranks, n);
        next = s.end;
      }
      EXPECT_EQ(next, n);
    }
  }
}

// Buckets start while backward is still running, and the result is the sum of every rank's
// (differently weighted) gradients.
TEST(GradientSync, BucketsStartDuringBackwardAndSumTheRanks) {
  const int n = 2;
  std::vector<std::vector<float>> local(n), reduced(n);
  std::vector<int> launchedBeforeLastTensor(n, -1), buckets(n, 0);
  ::braid::testing::runRanks(n, "shm", [&](Communicator& comm) {
    int r = comm.rank();
    auto model = makeTestModel(ModelConfig{256, 8, 1, 2, 8}, 7, 1);
    CommStats stats;
    GradientSync sync(comm, model->tensors(), model->grads(), 64, 1024, &stats);
    buckets[r] = static_cast<int>(sync.buckets().size());
    std::vector<int32_t> x(16), y(16);
    for (int i = 0; i < 16; ++i) x[i] = (i * 7 + r * 3) % 256, y[i] = (i * 5 + r) % 256;
    float scale = r == 0 ? 0.25f : 0.75f;  // uneven weights
    model->forward(x.data(), y.data(), 2, 8);
    model->zeroGrad();
    model->backward(scale, [](int) {});
    local[r].assign(model->grads(), model->grads() + model->numParams());
    model->zeroGrad();
    sync.begin();
    int seen = 0;
    int tensors = static_cast<int>(model->tensors().size());
    model->backward(scale, [&](int t) {
      if (++seen == tensors) launchedBeforeLastTensor[r] = sync.launched();
      sync.gradReady(t);
    });
    ASSERT_TRUE(sync.finish().isOk());
    reduced[r].assign(model->grads(), model->grads() + model->numParams());
    EXPECT_GT(stats.bytesReduced, 0u);
  });
  EXPECT_GE(buckets[0], 3);
  // When the last tensor (the embedding, offset 0) became ready, earlier buckets were running.
  EXPECT_GE(launchedBeforeLastTensor[0], 1);
  EXPECT_LT(launchedBeforeLastTensor[0], buckets[0]);
  for (size_t i = 0; i < local[0].size(); ++i) {
    ASSERT_EQ(reduced[0][i], local[0][i] + local[1][i]) << i;
    ASSERT_EQ(reduced[1][i], reduced[0][i]) << i;
  }
}

TEST(Train, TwoRanksGiveTheLossesOfOne) {
  TrainOptions o = smallRun();
  auto one = runOn(1, o);
  auto two = runOn(2, o);
  expectSameLosses(one[0], two[0], 1e-5);
  expectSameLosses(two[0], two[1], 0);
  // The run learns something and is not a constant.
  EXPECT_LT(one[0].steps.back().loss, one[0].steps.front().loss);
}

TEST(Train, ZeroOneGivesTheLossesOfAllReduce) {
  TrainOptions o = smallRun();
  auto plain = runOn(1, o);
  o.zero = 1;
  // A number of ranks that does not divide the parameter count (the shards are padded).
  size_t P = plain[0].model->numParams();
  int n = P % 3 != 0 ? 3 : P % 5 != 0 ? 5 : 7;
  auto zero = runOn(n, o);
  expectSameLosses(plain[0], zero[0], 1e-5);
  // Every rank ends with the same parameters.
  for (int r = 1; r < n; ++r)
    for (size_t i = 0; i < P; ++i)
      ASSERT_EQ(zero[r].model->params()[i], zero[0].model->params()[i]) << r << " " << i;
}

TEST(Train, UnevenSharesAreWeightedByTheirSize) {
  TrainOptions o = smallRun();
  o.batch = 7;  // 3 ranks: 3, 2 and 2 sequences
  auto one = runOn(1, o);
  auto three = runOn(3, o);
  expectSameLosses(one[0], three[0], 1e-5);
}

TEST(Train, AccumulationCommunicatesOncePerStep) {
  TrainOptions o = smallRun();
  o.batch = 4;
  o.accum = 3;
  auto one = runOn(1, o);
  auto two = runOn(2, o);
  expectSameLosses(one[0], two[0], 1e-5);
  size_t P = two[0].model->numParams();
  for (const StepRecord& r : two[0].steps) EXPECT_EQ(r.bytesReduced, P * sizeof(float));
}

TEST(Train, LocalSgdAveragesEveryKSteps) {
  TrainOptions o = smallRun();
  o.syncEvery = 3;
  o.steps = 7;  // syncs after steps 3, 6 and the last
  auto two = runOn(2, o);
  for (const StepRecord& r : two[0].steps)
    EXPECT_EQ(r.synced, (r.step + 1) % 3 == 0 || r.step == 6) << r.step;
  size_t P = two[0].model->numParams();
  for (size_t i = 0; i < P; ++i) ASSERT_EQ(two[0].model->params()[i], two[1].model->params()[i]);
  // With one rank, local SGD is plain training.
  auto localOne = runOn(1, o);
  o.syncEvery = 0;
  auto plainOne = runOn(1, o);
  expectSameLosses(localOne[0], plainOne[0], 0);
}

TEST(Train, DeterministicShardsAreBitwiseEqualOnAnyNumberOfRanks) {
  TrainOptions o = smallRun();
  o.deterministic = 6;
  o.evalEvery = 4;
  auto one = runOn(1, o);
  for (int n : {2, 3}) {
    auto many = runOn(n, o);
    expectSameLosses(one[0], many[0], 0);
    int evaluated = 0;
    for (size_t i = 0; i < one[0].steps.size(); ++i) {
      if (std::isnan(one[0].steps[i].val)) continue;
      EXPECT_EQ(one[0].steps[i].val, many[0].steps[i].val) << i;
      ++evaluated;
    }
    EXPECT_EQ(evaluated, 2);
    size_t P = one[0].model->numParams();
    for (size_t i = 0; i < P; ++i)
      ASSERT_EQ(one[0].model->params()[i], many[n - 1].model->params()[i]) << n << " " << i;
  }
  o.zero = 1;
  auto zero = runOn(2, o);
  expectSameLosses(one[0], zero[0], 0);
}

class Resume : public ::testing::TestWithParam<int> {};  // 0 allReduce, 1 ZeRO-1, 2 local SGD

TEST_P(Resume, ContinuesExactlyLikeAnUninterruptedRun) {
  TrainOptions o = smallRun();
  o.steps = 10;
  if (GetParam() == 1) o.zero = 1;
  if (GetParam() == 2) o.syncEvery = 3;
  auto full = runOn(2, o);
  char dir[] = "/tmp/braid-resume-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  o.checkpointDir = dir;
  o.checkpointEvery = 4;
  runOn(2, o);  // saves after steps 4 and 8
  o.resume = true;
  auto resumed = runOn(2, o);
  ASSERT_EQ(resumed[0].firstStep, 8);
  ASSERT_EQ(resumed[0].steps.size(), 2u);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(resumed[0].steps[i].loss, full[0].steps[8 + i].loss);
  // A damaged checkpoint is an error, not a silent restart.
  std::string latest = std::string(dir) + "/step-00000008.ckpt";
  {
    std::fstream f(latest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-100, std::ios::end);  // inside Adam's v
    f.put('\x7f');
  }
  ::braid::testing::runRanks(2, "shm", [&](Communicator& comm) {
    auto r = train(comm, o, corpus(), 256);
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.status().message().find("corrupt"), std::string::npos) << r.status().toString();
  });
  std::system(("rm -rf " + std::string(dir)).c_str());
}

INSTANTIATE_TEST_SUITE_P(Modes, Resume, ::testing::Values(0, 1, 2));

TEST(Checkpoint, FilesKeepTheLastTwoAndCheckThemselves) {
  char dir[] = "/tmp/braid-ckpt-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::vector<float> data = {1.5f, -2.0f, 3.25f};
  for (uint64_t step : {10, 20, 30}) {
    CheckpointHeader h;
    h.step = step;
    h.numParams = data.size();
    h.identity = "test";
    h.rngState = "rng " + std::to_string(step);
    auto w = CheckpointWriter::create(dir, h);
    ASSERT_TRUE(w.isOk()) << w.status().toString();
    ASSERT_TRUE((*w)->append(data.data(), data.size()).isOk());
    ASSERT_TRUE((*w)->commit().isOk());
  }
  std::vector<std::string> names;
  DIR* d = opendir(dir);
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names,
            (std::vector<std::string>{"latest", "step-00000020.ckpt", "step-00000030.ckpt"}));
  auto r = CheckpointReader::openLatest(dir);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ((*r)->header().step, 30u);
  EXPECT_EQ((*r)->header().rngState, "rng 30");
  std::vector<float> back(3);
  ASSERT_TRUE((*r)->read(back.data(), 3).isOk());
  EXPECT_EQ(back, data);
  EXPECT_TRUE((*r)->finish().isOk());
  // Truncated: an error naming the file.
  std::string path = std::string(dir) + "/step-00000030.ckpt";
  ASSERT_EQ(truncate(path.c_str(), 60), 0);
  auto t = CheckpointReader::openLatest(dir);
  ASSERT_FALSE(t.isOk());
  EXPECT_NE(t.status().message().find(path), std::string::npos) << t.status().toString();
  std::system(("rm -rf " + std::string(dir)).c_str());
}

// Rank 0 gathers ZeRO-1 shards into one file: it resumes on another number of ranks and mode.
TEST(Checkpoint, ZeroCheckpointResumesOnOtherRanksWithoutZero) {
  TrainOptions o = smallRun();
  o.steps = 10;
  auto full = runOn(1, o);
  char dir[] = "/tmp/braid-resume-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  o.checkpointDir = dir;
  o.checkpointEvery = 6;  // the only checkpoint: after step 6
  o.zero = 1;
  runOn(2, o);
  o.zero = 0;
  o.resume = true;
  auto resumed = runOn(3, o);
  ASSERT_EQ(resumed[0].firstStep, 6);
  for (size_t i = 0; i < resumed[0].steps.size(); ++i) {
    double a = resumed[0].steps[i].loss, b = full[0].steps[6 + i].loss;
    EXPECT_LE(std::abs(a - b), 1e-5 * std::abs(b)) << i;
  }
  std::system(("rm -rf " + std::string(dir)).c_str());
}

}  // namespace
}  // namespace braid::train

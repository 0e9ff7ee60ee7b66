// Single-process training on the real corpus (../shared/data/tinyshakespeare.txt): a short
// smoke run whose loss must fall, and — disabled by default, about a minute — the reference
// run of issue 6 (2 layers, width 64, 4 heads, context 64, batch 12, lr 3e-3, 1600 steps) that
// must reach validation loss <= 2.05. Run it with
//   build/tests/trainer_train_test --gtest_also_run_disabled_tests --gtest_filter='*Reference*'
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "trainer_test_util.h"

namespace braid::train {
namespace {

using testing::corpusPath;
using testing::TrainRun;

struct Corpus {
  std::vector<int32_t> train, val;
};

bool loadCorpus(Corpus* c) {
  if (!std::filesystem::exists(corpusPath())) return false;
  Result<TokenData> data = loadTokens(corpusPath());
  EXPECT_TRUE(data.isOk()) << data.status().toString();
  if (!data) return false;
  splitTrainVal(data->tokens, 0.1, &c->train, &c->val);
  return true;
}

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

TEST(TrainerTrain, SmokeLossFalls) {
  Corpus corpus;
  if (!loadCorpus(&corpus)) GTEST_SKIP() << corpusPath() << " not found";
  TrainRun run;
  run.config.context = 32;
  run.batch = 8;
  run.steps = 60;
  run.schedule.warmupSteps = 10;
  run.schedule.totalSteps = run.steps;
  std::vector<float> losses;
  testing::trainModel(run, corpus.train, [&](int, float loss) { losses.push_back(loss); });
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) {
    first += losses[i] / 10;
    last += losses[losses.size() - 1 - i] / 10;
  }
  EXPECT_NEAR(losses[0], std::log(256.0), 0.05);
  // Byte unigram statistics alone take the loss from 5.5 to about 3.3 within these steps.
  EXPECT_LT(last, first - 1.0) << "first 10 steps " << first << ", last 10 steps " << last;
  for (float l : losses) EXPECT_TRUE(std::isfinite(l));
}

TEST(TrainerTrain, DISABLED_Reference1600Steps) {
  Corpus corpus;
  if (!loadCorpus(&corpus)) GTEST_SKIP() << corpusPath() << " not found";
  TrainRun run;
  if (const char* s = std::getenv("TRAIN_STEPS")) run.steps = std::atoi(s);
  if (const char* s = std::getenv("TRAIN_THREADS")) run.threads = std::atoi(s);
  if (const char* s = std::getenv("TRAIN_LR")) run.schedule.maxLr = std::atof(s);
  if (const char* s = std::getenv("TRAIN_MINLR")) run.schedule.minLr = std::atof(s);
  if (const char* s = std::getenv("TRAIN_WARMUP")) run.schedule.warmupSteps = std::atoi(s);
  if (const char* s = std::getenv("TRAIN_WD")) run.adam.weightDecay = std::atof(s);
  if (const char* s = std::getenv("TRAIN_SEED")) run.seed = std::strtoull(s, nullptr, 10);
  run.schedule.totalSteps = run.steps;
  const auto wall0 = std::chrono::steady_clock::now();
  const double cpu0 = cpuSeconds();
  double window = 0;
  std::unique_ptr<Model> model = testing::trainModel(run, corpus.train, [&](int step, float loss) {
    window += loss;
    if ((step + 1) % 100 == 0) {
      std::printf("step %5d  loss %.4f  lr %.2e\n", step + 1, window / 100, run.schedule.at(step));
      window = 0;
    }
  });
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const double cpu = cpuSeconds() - cpu0;
  const bool skipVal = std::getenv("TRAIN_NO_VAL") != nullptr;
  const double val =
      skipVal ? 0.0 : testing::validationLoss(*model, corpus.val, 32, run.config.context);
  std::printf("%d steps: wall %.1f s (%.1f ms/step), cpu %.1f s (%.1f ms/step), val loss %.4f\n",
              run.steps, wall, 1e3 * wall / run.steps, cpu, 1e3 * cpu / run.steps, val);
  if (!skipVal) {
    EXPECT_LE(val, 2.05);
  }
}

}  // namespace
}  // namespace braid::train

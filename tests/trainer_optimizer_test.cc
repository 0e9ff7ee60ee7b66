// AdamW against steps computed by hand (in double), decay only where the tensors allow it,
// sharded optimizers equal to one whole optimizer bit for bit (what ZeRO-1 relies on), the
// warmup + cosine schedule at its landmarks, and the gradient norm.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "trainer/optimizer.h"

namespace braid::train {
namespace {

std::vector<ParamTensor> twoTensors() {
  return {ParamTensor{"w", 0, 3, true}, ParamTensor{"b", 3, 2, false}};
}

TEST(TrainerOptimizer, AdamWMatchesHandComputedSteps) {
  AdamWConfig cfg;  // beta 0.9 / 0.95, eps 1e-8, weight decay 0.1
  AdamW adam(cfg, twoTensors(), 0, 5);
  std::vector<float> p = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f};
  const std::vector<std::vector<float>> grads = {{0.1f, -0.2f, 0.0f, 0.3f, -0.05f},
                                                 {-0.3f, 0.1f, 0.2f, 0.3f, 0.5f}};
  const float lrs[2] = {0.01f, 0.02f};
  std::vector<double> ep(p.begin(), p.end()), m(5, 0.0), v(5, 0.0);
  for (int t = 1; t <= 2; ++t) {
    const std::vector<float>& g = grads[t - 1];
    adam.step(p.data(), g.data(), lrs[t - 1]);
    for (int i = 0; i < 5; ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
      const double mHat = m[i] / (1 - std::pow(0.9, t)), vHat = v[i] / (1 - std::pow(0.95, t));
      const double decay = i < 3 ? 0.1 : 0.0;  // "b" is a bias: no weight decay
      ep[i] -= lrs[t - 1] * (mHat / (std::sqrt(vHat) + 1e-8) + decay * ep[i]);
    }
    for (int i = 0; i < 5; ++i) EXPECT_NEAR(p[i], ep[i], 1e-6) << "step " << t << " elem " << i;
  }
  EXPECT_EQ(adam.stepsTaken(), 2u);
  // Step 1 by hand for element 0: m̂ = g, v̂ = g², so the update is lr * (1 + decay * p).
  AdamW fresh(cfg, twoTensors(), 0, 5);
  std::vector<float> q = {0.5f, 0, 0, 0, 0};
  const std::vector<float> g = {0.1f, 0, 0, 0, 0};
  fresh.step(q.data(), g.data(), 0.01f);
  EXPECT_NEAR(q[0], 0.5 - 0.01 * (1.0 + 0.1 * 0.5), 1e-7);
  EXPECT_NEAR(q[1], 0.0, 1e-12);  // zero gradient, zero weight: unchanged
}

TEST(TrainerOptimizer, ShardsEqualOneWholeOptimizer) {
  std::vector<ParamTensor> tensors = {
      {"a.weight", 0, 37, true}, {"a.bias", 37, 5, false}, {"b.weight", 42, 58, true}};
  std::vector<float> whole(100), sharded(100), g(100);
  for (int i = 0; i < 100; ++i) {
    whole[i] = sharded[i] = std::sin(i * 0.7f);
    g[i] = std::cos(i * 1.3f) * 0.01f;
  }
  AdamW all(AdamWConfig{}, tensors, 0, 100);
  AdamW s0(AdamWConfig{}, tensors, 0, 40), s1(AdamWConfig{}, tensors, 40, 73),
      s2(AdamWConfig{}, tensors, 73, 100);
  for (int step = 0; step < 3; ++step) {
    all.step(whole.data(), g.data(), 1e-3f);
    for (AdamW* s : {&s0, &s1, &s2}) s->step(sharded.data(), g.data(), 1e-3f);
  }
  EXPECT_EQ(0, std::memcmp(whole.data(), sharded.data(), sizeof(float) * 100));
  EXPECT_EQ(s1.m().size(), 33u);
  EXPECT_EQ(s1.v().size(), 33u);
  EXPECT_EQ(s1.begin(), 40u);
  EXPECT_EQ(s1.end(), 73u);
  // A shard only touches its own range.
  std::vector<float> before = sharded;
  s1.step(sharded.data(), g.data(), 1e-3f);
  for (int i = 0; i < 100; ++i) {
    if (i < 40 || i >= 73) {
      EXPECT_EQ(sharded[i], before[i]) << i;
    }
  }
}

TEST(TrainerOptimizer, RestoredStateContinuesIdentically) {
  const auto tensors = twoTensors();
  std::vector<float> p = {1, 2, 3, 4, 5}, g = {0.1f, -0.1f, 0.2f, 0.05f, -0.3f};
  AdamW a(AdamWConfig{}, tensors, 0, 5);
  a.step(p.data(), g.data(), 0.01f);
  std::vector<float> q = p;
  AdamW b(AdamWConfig{}, tensors, 0, 5);
  b.m() = a.m();
  b.v() = a.v();
  b.setStepsTaken(a.stepsTaken());
  a.step(p.data(), g.data(), 0.01f);
  b.step(q.data(), g.data(), 0.01f);
  EXPECT_EQ(0, std::memcmp(p.data(), q.data(), sizeof(float) * 5));
}

TEST(TrainerOptimizer, WarmupThenCosineToTheFloor) {
  LrSchedule s;
  s.maxLr = 3e-3f;
  s.minLr = 3e-4f;
  s.warmupSteps = 100;
  s.totalSteps = 1100;
  EXPECT_FLOAT_EQ(s.at(0), 3e-5f);  // maxLr / warmup
  EXPECT_FLOAT_EQ(s.at(49), 1.5e-3f);
  EXPECT_FLOAT_EQ(s.at(99), 3e-3f);
  EXPECT_FLOAT_EQ(s.at(100), 3e-3f);
  EXPECT_FLOAT_EQ(s.at(600), 1.65e-3f);  // halfway down: (max + min) / 2
  EXPECT_NEAR(s.at(1099), 3e-4f, 1e-8);
  EXPECT_FLOAT_EQ(s.at(1100), 3e-4f);
  EXPECT_FLOAT_EQ(s.at(5000), 3e-4f);
  for (int i = 100; i < 1100; ++i) EXPECT_LE(s.at(i + 1), s.at(i)) << i;
  s.warmupSteps = 0;
  EXPECT_FLOAT_EQ(s.at(0), 3e-3f);
  s.totalSteps = 0;
  EXPECT_FLOAT_EQ(s.at(0), 3e-4f);
}

TEST(TrainerOptimizer, GradNorm) {
  const float g[2] = {3, 4};
  EXPECT_DOUBLE_EQ(gradNorm(g, 2), 5.0);
  EXPECT_DOUBLE_EQ(gradSumSquares(g, 2), 25.0);
  EXPECT_EQ(gradNorm(g, 0), 0.0);
  std::vector<float> many(1 << 20, 1e-3f);  // accumulated in double: no drift
  EXPECT_NEAR(gradNorm(many.data(), many.size()), std::sqrt(double(1 << 20)) * double(1e-3f),
              1e-10);  // a float sum would be ~1e-4 off
}

}  // namespace
}  // namespace braid::train

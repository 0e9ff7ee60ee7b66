// The GPT-2 model: forward against an independent double-precision reference, every parameter
// tensor's gradient against central differences of that reference, the gradient-ready contract
// the DDP driver relies on, bitwise determinism (same seed; 1, 2 or 3 threads), the step-0 loss
// with the byte tokenizer, and bad configurations and inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "trainer/matmul.h"
#include "trainer/model.h"
#include "trainer/rng.h"
#include "trainer_reference.h"
#include "trainer_test_util.h"

namespace braid::train {
namespace {

std::vector<int32_t> randomTokens(size_t n, int vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng.below(vocab));
  return t;
}

std::vector<uint32_t> bitsOf(const float* p, size_t n) {
  std::vector<uint32_t> out(n);
  std::memcpy(out.data(), p, n * sizeof(float));
  return out;
}

ModelConfig tinyConfig() {
  ModelConfig c;
  c.vocab = 13;
  c.context = 6;
  c.layers = 2;
  c.heads = 2;
  c.width = 8;
  return c;
}

TEST(TrainerModel, LayoutCoversTheFlatArrayInForwardOrder) {
  auto model = Model::create(ModelConfig{}, 1, 1);
  ASSERT_TRUE(model);
  const auto& t = model->tensors();
  ASSERT_EQ(t.size(), 2u + 12u * 2u + 2u);
  EXPECT_EQ(t.front().name, "wte.weight");
  EXPECT_EQ(t[2].name, "h0.ln1.weight");
  EXPECT_EQ(t[4].name, "h0.attn.qkv.weight");
  EXPECT_EQ(t.back().name, "lnf.bias");
  size_t offset = 0;
  std::set<std::string> names;
  for (const ParamTensor& p : t) {
    EXPECT_EQ(p.offset, offset) << p.name;
    offset += p.size;
    EXPECT_TRUE(names.insert(p.name).second) << "duplicate " << p.name;
    const bool noDecay =
        p.name.find("bias") != std::string::npos || p.name.find("ln") != std::string::npos;
    EXPECT_EQ(p.decay, !noDecay) << p.name;
  }
  EXPECT_EQ(offset, model->numParams());
  // 2 layers, width 64, vocab 256, context 64: 12*C*C + 13*C per layer, embeddings, final LN.
  EXPECT_EQ(model->numParams(), 2u * (12 * 64 * 64 + 13 * 64) + (256 + 64) * 64 + 2 * 64);
}

// Every element of every tensor: the float backward against central differences of the
// double reference. Parameters are moved well away from initialisation so that every path
// (LayerNorm gains, biases, attention mixing) carries a sizeable gradient.
TEST(TrainerModel, GradientMatchesFiniteDifferencesOfReference) {
  const ModelConfig cfg = tinyConfig();
  const int B = 2, T = 5;  // T < context: the last position embedding must get no gradient
  auto model = Model::create(cfg, 7, 2);
  ASSERT_TRUE(model);
  Rng rng(99);
  for (size_t i = 0; i < model->numParams(); ++i) {
    model->params()[i] += static_cast<float>(0.3 * rng.normal());
  }
  const auto tokens = randomTokens(B * T, cfg.vocab, 1);
  const auto targets = randomTokens(B * T, cfg.vocab, 2);

  testing::ReferenceGpt ref(cfg, model->tensors());
  std::vector<double> p(model->params(), model->params() + model->numParams());
  const double refLoss = ref.loss(p, tokens, targets, B, T);
  const double h = 1e-5;
  std::vector<double> fd(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    const double saved = p[i];
    p[i] = saved + h;
    const double up = ref.loss(p, tokens, targets, B, T);
    p[i] = saved - h;
    const double down = ref.loss(p, tokens, targets, B, T);
    p[i] = saved;
    fd[i] = (up - down) / (2 * h);
  }

  // Every matrix kernel this CPU can run, the best (restored at the end) included.
  const std::string best = gemmKernelName();
  for (const char* kernel : {"avx512", "avx2", "generic"}) {
    if (!selectGemmKernel(kernel)) continue;
    SCOPED_TRACE(kernel);
    const float loss = model->forward(tokens.data(), targets.data(), B, T);
    EXPECT_NEAR(loss, refLoss, 1e-5 * refLoss);
    model->zeroGrad();
    model->backward(1.0f, {});
    for (const ParamTensor& t : model->tensors()) {
      double scale = 0;
      for (size_t i = 0; i < t.size; ++i) scale = std::max(scale, std::fabs(fd[t.offset + i]));
      EXPECT_GT(scale, 1e-4) << t.name << " has (almost) no gradient: the check would be empty";
      double worst = 0;
      for (size_t i = 0; i < t.size; ++i) {
        const double g = model->grads()[t.offset + i], want = fd[t.offset + i];
        worst = std::max(worst, std::fabs(g - want) / (1e-4 * scale + 1e-4 * std::fabs(want)));
        if (t.name == "wpe.weight" && i >= static_cast<size_t>(T) * cfg.width) {
          EXPECT_EQ(g, 0.0f) << "position " << i / cfg.width << " is past T";
        }
      }
      // worst = max error in units of the tolerance (1e-4 of the tensor's largest gradient
      // plus 1e-4 relative); float rounding keeps it below 0.01.
      EXPECT_LT(worst, 1.0) << t.name;
    }
  }
  EXPECT_TRUE(selectGemmKernel(best));
}

TEST(TrainerModel, BackwardScalesExactlyAndAccumulates) {
  const ModelConfig cfg = tinyConfig();
  auto model = Model::create(cfg, 3, 2);
  const auto tokens = randomTokens(12, cfg.vocab, 5), targets = randomTokens(12, cfg.vocab, 6);
  model->forward(tokens.data(), targets.data(), 2, 6);
  model->zeroGrad();
  model->backward(1.0f, {});
  const auto once = bitsOf(model->grads(), model->numParams());
  model->backward(1.0f, {});
  const auto twice = bitsOf(model->grads(), model->numParams());
  model->zeroGrad();
  model->backward(2.0f, {});
  const auto scaled = bitsOf(model->grads(), model->numParams());
  size_t nonzero = 0;
  float largest = 0;
  for (uint32_t b : once) largest = std::max(largest, std::fabs(std::bit_cast<float>(b)));
  for (size_t i = 0; i < once.size(); ++i) {
    // Scaling by a power of two is exact; a second backward adds into the same sums (a bias
    // gradient, a repeated token's embedding), so it matches only up to rounding.
    const float one = std::bit_cast<float>(once[i]);
    EXPECT_EQ(std::bit_cast<float>(scaled[i]), 2 * one);
    EXPECT_NEAR(std::bit_cast<float>(twice[i]), 2 * one, 1e-6f * largest);
    nonzero += once[i] != 0;
  }
  EXPECT_GT(nonzero, once.size() / 2);
}

TEST(TrainerModel, GradReadyOncePerTensorHighestFirstAndFinal) {
  auto model = Model::create(ModelConfig{}, 11, 2);
  const auto tokens = randomTokens(2 * 64, 256, 1), targets = randomTokens(2 * 64, 256, 2);
  model->forward(tokens.data(), targets.data(), 2, 64);
  model->zeroGrad();
  std::vector<int> order;
  std::vector<std::vector<float>> atReady(model->tensors().size());
  model->backward(1.0f, [&](int i) {
    order.push_back(i);
    const ParamTensor& t = model->tensors()[i];
    atReady[i].assign(model->grads() + t.offset, model->grads() + t.offset + t.size);
  });
  std::vector<int> expected(model->tensors().size());
  for (size_t i = 0; i < expected.size(); ++i)
    expected[i] = static_cast<int>(expected.size() - 1 - i);
  EXPECT_EQ(order, expected);
  for (size_t i = 0; i < atReady.size(); ++i) {
    const ParamTensor& t = model->tensors()[i];
    EXPECT_EQ(0, std::memcmp(atReady[i].data(), model->grads() + t.offset, t.size * sizeof(float)))
        << t.name << " changed after it was announced ready";
  }
}

TEST(TrainerModel, SameSeedSameBitsWhateverTheThreadCount) {
  const ModelConfig cfg;  // the reference size: every kernel takes its parallel path
  const int B = 4, T = 64;
  const auto tokens = randomTokens(B * T, 256, 3), targets = randomTokens(B * T, 256, 4);
  std::vector<uint32_t> params0, grads0, logits0;
  float loss0 = 0;
  for (int threads : {1, 2, 3}) {
    auto model = Model::create(cfg, 1234, threads);
    const float loss = model->forward(tokens.data(), targets.data(), B, T);
    model->zeroGrad();
    model->backward(1.0f, {});
    auto params = bitsOf(model->params(), model->numParams());
    auto grads = bitsOf(model->grads(), model->numParams());
    auto logits = bitsOf(model->logits(), size_t(B) * T * cfg.vocab);
    if (threads == 1) {
      params0 = params, grads0 = grads, logits0 = logits, loss0 = loss;
      continue;
    }
    EXPECT_EQ(params, params0) << threads << " threads";
    EXPECT_EQ(std::bit_cast<uint32_t>(loss), std::bit_cast<uint32_t>(loss0)) << threads;
    EXPECT_EQ(logits, logits0) << threads << " threads";
    EXPECT_EQ(grads, grads0) << threads << " threads";
  }
  auto other = Model::create(cfg, 1235, 1);
  EXPECT_NE(bitsOf(other->params(), other->numParams()), params0);
}

TEST(TrainerModel, StepZeroLossIsLog256WithByteTokens) {
  const int B = 12, T = 64;
  std::vector<int32_t> tokens, targets;
  const std::string path = testing::corpusPath();
  if (std::filesystem::exists(path)) {
    Result<TokenData> data = loadTokens(path);
    ASSERT_TRUE(data.isOk()) << data.status().toString();
    DistributedSampler sampler(data->tokens.size(), T, 0, 1, 1337);
    testing::nextBatch(data->tokens, sampler, B, T, &tokens, &targets);
  } else {
    tokens = randomTokens(B * T, 256, 8);
    targets = randomTokens(B * T, 256, 9);
  }
  for (uint64_t seed : {1337, 1, 2}) {
    auto model = Model::create(ModelConfig{}, seed, 2);
    EXPECT_NEAR(model->forward(tokens.data(), targets.data(), B, T), std::log(256.0), 0.05);
  }
}

TEST(TrainerModel, ForwardWithoutTargetsGivesLogitsOnly) {
  const ModelConfig cfg = tinyConfig();
  auto model = Model::create(cfg, 5, 1);
  const auto tokens = randomTokens(6, cfg.vocab, 1), targets = randomTokens(6, cfg.vocab, 2);
  model->forward(tokens.data(), targets.data(), 1, 6);
  const auto logits = bitsOf(model->logits(), 6 * cfg.vocab);
  EXPECT_EQ(model->forward(tokens.data(), nullptr, 1, 6), 0.0f);
  EXPECT_EQ(bitsOf(model->logits(), 6 * cfg.vocab), logits);
  model->zeroGrad();
  int calls = 0;
  model->backward(1.0f, [&](int) { ++calls; });
  EXPECT_EQ(calls, static_cast<int>(model->tensors().size()));
  for (size_t i = 0; i < model->numParams(); ++i) ASSERT_EQ(model->grads()[i], 0.0f);
}

TEST(TrainerModel, BadConfigsAndInputsAreRejected) {
  ModelConfig c;
  c.heads = 5;  // 64 % 5 != 0
  EXPECT_FALSE(validate(c).isOk());
  EXPECT_NE(validate(c).message().find("divisible"), std::string::npos);
  EXPECT_EQ(Model::create(c, 1, 1), nullptr);
  c = ModelConfig{};
  c.layers = 0;
  EXPECT_FALSE(validate(c).isOk());
  EXPECT_TRUE(validate(ModelConfig{}).isOk());

  const ModelConfig cfg = tinyConfig();
  auto model = Model::create(cfg, 1, 1);
  auto tokens = randomTokens(14, cfg.vocab, 1), targets = randomTokens(14, cfg.vocab, 2);
  EXPECT_TRUE(std::isnan(model->forward(tokens.data(), targets.data(), 2, 7)));  // T > context
  EXPECT_TRUE(std::isnan(model->forward(tokens.data(), targets.data(), 0, 6)));
  tokens[3] = cfg.vocab;
  EXPECT_TRUE(std::isnan(model->forward(tokens.data(), targets.data(), 2, 6)));
  tokens[3] = 0;
  targets[5] = -1;
  EXPECT_TRUE(std::isnan(model->forward(tokens.data(), targets.data(), 2, 6)));
  targets[5] = 0;
  EXPECT_TRUE(std::isfinite(model->forward(tokens.data(), targets.data(), 2, 6)));
}

}  // namespace
}  // namespace braid::train

// The GPT-2 model of model.h on the CPU: the flat parameter layout, GPT-2 initialisation, and
// forward and backward as sequences of the layers in layers.h, attention.h and matmul.h. The
// activations of the last forward are kept (sized for the largest batch seen) for backward.
#include "model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "attention.h"
#include "layers.h"
#include "matmul.h"
#include "rng.h"
#include "thread_pool.h"

namespace braid::train {

Status validate(const ModelConfig& c) {
  if (c.vocab < 1 || c.context < 1 || c.layers < 1 || c.heads < 1 || c.width < 1) {
    return invalidArgument("model: vocab, context, layers, heads and width must all be >= 1");
  }
  if (c.width % c.heads != 0) {
    return invalidArgument("model: width " + std::to_string(c.width) +
                           " is not divisible by heads " + std::to_string(c.heads));
  }
  const double params =
      12.0 * c.width * c.width * c.layers + (static_cast<double>(c.vocab) + c.context) * c.width;
  if (params > 4e9) return invalidArgument("model: more than 4e9 parameters");
  return Status::ok();
}

namespace {

// Indices into tensors() of one block's parameters, in layout (= forward) order.
enum BlockTensor {
  kLn1W,
  kLn1B,
  kQkvW,
  kQkvB,
  kProjW,
  kProjB,
  kLn2W,
  kLn2B,
  kFcW,
  kFcB,
  kFcProjW,
  kFcProjB,
  kPerBlock
};
constexpr int kWte = 0, kWpe = 1, kFirstBlock = 2;

std::vector<ParamTensor> layout(const ModelConfig& cfg) {
  const size_t C = cfg.width;
  std::vector<ParamTensor> t;
  size_t offset = 0;
  auto add = [&](std::string name, size_t size, bool decay) {
    t.push_back(ParamTensor{std::move(name), offset, size, decay});
    offset += size;
  };
  add("wte.weight", cfg.vocab * C, true);
  add("wpe.weight", cfg.context * C, true);
  for (int l = 0; l < cfg.layers; ++l) {
    const std::string h = "h" + std::to_string(l) + ".";
    add(h + "ln1.weight", C, false);
    add(h + "ln1.bias", C, false);
    add(h + "attn.qkv.weight", 3 * C * C, true);
    add(h + "attn.qkv.bias", 3 * C, false);
    add(h + "attn.proj.weight", C * C, true);
    add(h + "attn.proj.bias", C, false);
    add(h + "ln2.weight", C, false);
    add(h + "ln2.bias", C, false);
    add(h + "mlp.fc.weight", 4 * C * C, true);
    add(h + "mlp.fc.bias", 4 * C, false);
    add(h + "mlp.proj.weight", 4 * C * C, true);
    add(h + "mlp.proj.bias", C, false);
  }
  add("lnf.weight", C, false);
  add("lnf.bias", C, false);
  return t;
}

// Activations of one block for B*T rows.
struct BlockActs {
  std::vector<float> ln1, ln1Mean, ln1Rstd, qkv, att, atty, attProj, res2, ln2, ln2Mean, ln2Rstd,
      fch, fchGelu, fcProj, res3;
};

class CpuGpt final : public Model {
 public:
  CpuGpt(const ModelConfig& cfg, uint64_t seed, int threads)
      : cfg_(cfg), tensors_(layout(cfg)), pool_(threads < 1 ? 1 : threads) {
    const ParamTensor& last = tensors_.back();
    params_.assign(last.offset + last.size, 0.0f);
    grads_.assign(params_.size(), 0.0f);
    blocks_.resize(cfg.layers);
    initialise(seed);
  }

  const ModelConfig& config() const override { return cfg_; }
  const std::vector<ParamTensor>& tensors() const override { return tensors_; }
  size_t numParams() const override { return params_.size(); }
  float* params() override { return params_.data(); }
  float* grads() override { return grads_.data(); }
  const float* logits() const override { return logits_.data(); }
  void zeroGrad() override { std::memset(grads_.data(), 0, grads_.size() * sizeof(float)); }

  float forward(const int32_t* tokens, const int32_t* targets, int B, int T) override;
  void backward(float lossScale, const std::function<void(int tensor)>& gradReady) override;

 private:
  float* p(int tensor) { return params_.data() + tensors_[tensor].offset; }
  float* g(int tensor) { return grads_.data() + tensors_[tensor].offset; }
  static int blockTensor(int layer, int which) { return kFirstBlock + layer * kPerBlock + which; }
  void initialise(uint64_t seed);
  void allocate(int B, int T);
  void blockForward(int l, const float* residual, int B, int T);
  void blockBackward(int l, const float* residual, int B, int T,
                     const std::function<void(int)>& ready);

  ModelConfig cfg_;
  std::vector<ParamTensor> tensors_;
  ThreadPool pool_;
  std::vector<float> params_, grads_;
  // Last forward.
  int B_ = 0, T_ = 0;
  bool haveTargets_ = false;
  std::vector<int32_t> tokens_, targets_;
  std::vector<float> encoded_, lnf_, lnfMean_, lnfRstd_, logits_, probs_;
  std::vector<BlockActs> blocks_;
  // Backward scratch.
  std::vector<float> dres_, dC_, dqkv_, dfch_, dlogits_;
};

void CpuGpt::initialise(uint64_t seed) {
  // GPT-2: weights N(0, 0.02), the projections into the residual stream scaled by
  // 1/sqrt(2 * layers), biases 0, LayerNorm weights 1.
  Rng rng(seed);
  const float residualStd = 0.02f / std::sqrt(2.0f * cfg_.layers);
  auto normal = [&](int tensor, float stdDev) {
    float* x = p(tensor);
    for (size_t i = 0; i < tensors_[tensor].size; ++i) {
      x[i] = static_cast<float>(rng.normal() * stdDev);
    }
  };
  auto fill = [&](int tensor, float value) {
    std::fill_n(p(tensor), tensors_[tensor].size, value);
  };
  normal(kWte, 0.02f);
  normal(kWpe, 0.02f);
  for (int l = 0; l < cfg_.layers; ++l) {
    fill(blockTensor(l, kLn1W), 1.0f);
    normal(blockTensor(l, kQkvW), 0.02f);
    normal(blockTensor(l, kProjW), residualStd);
    fill(blockTensor(l, kLn2W), 1.0f);
    normal(blockTensor(l, kFcW), 0.02f);
    normal(blockTensor(l, kFcProjW), residualStd);
  }
  fill(static_cast<int>(tensors_.size()) - 2, 1.0f);  // lnf.weight
}

void CpuGpt::allocate(int B, int T) {
  const size_t BT = static_cast<size_t>(B) * T, C = cfg_.width, V = cfg_.vocab;
  const size_t attSize = static_cast<size_t>(B) * cfg_.heads * T * T;
  auto grow = [](std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
  };
  grow(encoded_, BT * C);
  grow(lnf_, BT * C);
  grow(lnfMean_, BT);
  grow(lnfRstd_, BT);
  grow(logits_, BT * V);
  for (BlockActs& a : blocks_) {
    for (auto* v : {&a.ln1, &a.atty, &a.attProj, &a.res2, &a.ln2, &a.fcProj, &a.res3}) {
      grow(*v, BT * C);
    }
    for (auto* v : {&a.ln1Mean, &a.ln1Rstd, &a.ln2Mean, &a.ln2Rstd}) grow(*v, BT);
    grow(a.qkv, BT * 3 * C);
    grow(a.att, attSize);
    grow(a.fch, BT * 4 * C);
    grow(a.fchGelu, BT * 4 * C);
  }
}

void CpuGpt::blockForward(int l, const float* residual, int B, int T) {
  const int BT = B * T, C = cfg_.width;
  ThreadPool& pool = pool_;
  BlockActs& a = blocks_[l];
  auto w = [&](int which) { return p(blockTensor(l, which)); };
  layerNormForward(a.ln1.data(), a.ln1Mean.data(), a.ln1Rstd.data(), residual, w(kLn1W), w(kLn1B),
                   BT, C, pool);
  linearForward(a.qkv.data(), a.ln1.data(), w(kQkvW), w(kQkvB), BT, C, 3 * C, pool);
  attentionForward(a.atty.data(), a.att.data(), a.qkv.data(), B, T, C, cfg_.heads, pool);
  linearForward(a.attProj.data(), a.atty.data(), w(kProjW), w(kProjB), BT, C, C, pool);
  addForward(a.res2.data(), residual, a.attProj.data(), size_t(BT) * C, pool);
  layerNormForward(a.ln2.data(), a.ln2Mean.data(), a.ln2Rstd.data(), a.res2.data(), w(kLn2W),
                   w(kLn2B), BT, C, pool);
  linearForward(a.fch.data(), a.ln2.data(), w(kFcW), w(kFcB), BT, C, 4 * C, pool);
  geluForward(a.fchGelu.data(), a.fch.data(), size_t(BT) * 4 * C, pool);
  linearForward(a.fcProj.data(), a.fchGelu.data(), w(kFcProjW), w(kFcProjB), BT, 4 * C, C, pool);
  addForward(a.res3.data(), a.res2.data(), a.fcProj.data(), size_t(BT) * C, pool);
}

float CpuGpt::forward(const int32_t* tokens, const int32_t* targets, int B, int T) {
  const int V = cfg_.vocab, C = cfg_.width;
  haveTargets_ = false;
  if (B < 1 || T < 1 || T > cfg_.context) return NAN;
  const int BT = B * T;
  for (int i = 0; i < BT; ++i) {
    if (tokens[i] < 0 || tokens[i] >= V || (targets && (targets[i] < 0 || targets[i] >= V))) {
      return NAN;
    }
  }
  allocate(B, T);
  B_ = B;
  T_ = T;
  tokens_.assign(tokens, tokens + BT);
  encoderForward(encoded_.data(), tokens, p(kWte), p(kWpe), B, T, C, pool_);
  const float* residual = encoded_.data();
  for (int l = 0; l < cfg_.layers; ++l) {
    blockForward(l, residual, B, T);
    residual = blocks_[l].res3.data();
  }
  const int lnfW = static_cast<int>(tensors_.size()) - 2;
  layerNormForward(lnf_.data(), lnfMean_.data(), lnfRstd_.data(), residual, p(lnfW), p(lnfW + 1),
                   BT, C, pool_);
  linearForward(logits_.data(), lnf_.data(), p(kWte), nullptr, BT, C, V, pool_);
  if (!targets) return 0.0f;
  if (probs_.size() < size_t(BT) * V) probs_.resize(size_t(BT) * V);
  targets_.assign(targets, targets + BT);
  haveTargets_ = true;
  return crossEntropyForward(probs_.data(), logits_.data(), targets, BT, V, pool_);
}

void CpuGpt::blockBackward(int l, const float* residual, int B, int T,
                           const std::function<void(int)>& ready) {
  const int BT = B * T, C = cfg_.width;
  ThreadPool& pool = pool_;
  BlockActs& a = blocks_[l];
  auto w = [&](int which) { return p(blockTensor(l, which)); };
  auto dw = [&](int which) { return g(blockTensor(l, which)); };
  auto done = [&](int hi, int lo) {
    for (int which = hi; which >= lo; --which) ready(blockTensor(l, which));
  };
  float* dres = dres_.data();  // d(loss)/d(res3) on entry, d(loss)/d(residual) on exit
  float* dC = dC_.data();
  // res3 = res2 + fcProj(gelu(fc(ln2(res2))))
  linearBackward(dfch_.data(), dw(kFcProjW), dw(kFcProjB), dres, a.fchGelu.data(), w(kFcProjW), BT,
                 4 * C, C, pool);
  done(kFcProjB, kFcProjW);
  geluBackward(dfch_.data(), a.fch.data(), dfch_.data(), size_t(BT) * 4 * C, pool);
  linearBackward(dC, dw(kFcW), dw(kFcB), dfch_.data(), a.ln2.data(), w(kFcW), BT, C, 4 * C, pool);
  done(kFcB, kFcW);
  layerNormBackward(dres, dw(kLn2W), dw(kLn2B), dC, a.res2.data(), w(kLn2W), a.ln2Mean.data(),
                    a.ln2Rstd.data(), BT, C, pool);
  done(kLn2B, kLn2W);
  // res2 = residual + proj(attention(qkv(ln1(residual))))
  linearBackward(dC, dw(kProjW), dw(kProjB), dres, a.atty.data(), w(kProjW), BT, C, C, pool);
  done(kProjB, kProjW);
  attentionBackward(dqkv_.data(), dC, a.qkv.data(), a.att.data(), B, T, C, cfg_.heads, pool);
  linearBackward(dC, dw(kQkvW), dw(kQkvB), dqkv_.data(), a.ln1.data(), w(kQkvW), BT, C, 3 * C,
                 pool);
  done(kQkvB, kQkvW);
  layerNormBackward(dres, dw(kLn1W), dw(kLn1B), dC, residual, w(kLn1W), a.ln1Mean.data(),
                    a.ln1Rstd.data(), BT, C, pool);
  done(kLn1B, kLn1W);
}

void CpuGpt::backward(float lossScale, const std::function<void(int tensor)>& gradReady) {
  auto ready = [&](int tensor) {
    if (gradReady) gradReady(tensor);
  };
  if (!haveTargets_) {  // nothing to differentiate: every gradient is final as it is
    for (int i = static_cast<int>(tensors_.size()) - 1; i >= 0; --i) ready(i);
    return;
  }
  const int B = B_, T = T_, BT = B * T, C = cfg_.width, V = cfg_.vocab;
  ThreadPool& pool = pool_;
  auto grow = [](std::vector<float>& v, size_t size) {
    if (v.size() < size) v.resize(size);
  };
  grow(dres_, size_t(BT) * C);
  grow(dC_, size_t(BT) * C);
  grow(dqkv_, size_t(BT) * 3 * C);
  grow(dfch_, size_t(BT) * 4 * C);
  grow(dlogits_, size_t(BT) * V);
  crossEntropyBackward(dlogits_.data(), probs_.data(), targets_.data(), BT, V, lossScale / BT,
                       pool);
  // Tied head: logits = lnf · wte^T. wte's gradient is not final until the embedding's part.
  linearBackward(dC_.data(), g(kWte), nullptr, dlogits_.data(), lnf_.data(), p(kWte), BT, C, V,
                 pool);
  const int lnfW = static_cast<int>(tensors_.size()) - 2;
  const float* last = blocks_[cfg_.layers - 1].res3.data();
  std::memset(dres_.data(), 0, size_t(BT) * C * sizeof(float));
  layerNormBackward(dres_.data(), g(lnfW), g(lnfW + 1), dC_.data(), last, p(lnfW), lnfMean_.data(),
                    lnfRstd_.data(), BT, C, pool);
  ready(lnfW + 1);
  ready(lnfW);
  for (int l = cfg_.layers - 1; l >= 0; --l) {
    const float* residual = l == 0 ? encoded_.data() : blocks_[l - 1].res3.data();
    blockBackward(l, residual, B, T, ready);
  }
  encoderBackward(g(kWte), g(kWpe), dres_.data(), tokens_.data(), B, T, C, pool);
  ready(kWpe);
  ready(kWte);
}

}  // namespace

std::unique_ptr<Model> Model::create(const ModelConfig& config, uint64_t seed, int threads) {
  if (!validate(config).isOk()) return nullptr;
  return std::make_unique<CpuGpt>(config, seed, threads);
}

}  // namespace braid::train

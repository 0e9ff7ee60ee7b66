// The test-only TinyModel (see tiny_model.h).
#include "testing/tiny_model.h"

#include <cmath>
#include <random>

namespace braid::train::testing {
namespace {

class TinyModel final : public Model {
 public:
  TinyModel(const ModelConfig& c, uint64_t seed) : config_(c) {
    size_t V = c.vocab, C = c.width, T = c.context;
    auto add = [&](const char* name, size_t n, bool decay) {
      tensors_.push_back({name, numParams_, n, decay});
      numParams_ += n;
    };
    add("wte", V * C, true);
    add("wpe", T * C, true);
    add("head.weight", C * V, true);
    add("head.bias", V, false);
    params_.resize(numParams_);
    grads_.assign(numParams_, 0.0f);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (size_t i = 0; i < tensors_[3].offset; ++i) params_[i] = normal(rng);
  }

  const ModelConfig& config() const override { return config_; }
  const std::vector<ParamTensor>& tensors() const override { return tensors_; }
  size_t numParams() const override { return numParams_; }
  float* params() override { return params_.data(); }
  float* grads() override { return grads_.data(); }
  const float* logits() const override { return logits_.data(); }
  void zeroGrad() override { std::fill(grads_.begin(), grads_.end(), 0.0f); }

  float forward(const int32_t* tokens, const int32_t* targets, int B, int T) override {
    const int V = config_.vocab, C = config_.width;
    N_ = B * T;
    T_ = T;
    tokens_.assign(tokens, tokens + N_);
    targets_.assign(targets, targets + N_);
    h_.assign(size_t(N_) * C, 0.0f);
    probs_.assign(size_t(N_) * V, 0.0f);
    logits_.assign(size_t(N_) * V, 0.0f);
    const float* wte = params_.data();
    const float* wpe = wte + tensors_[1].offset;
    const float* w = wte + tensors_[2].offset;
    const float* bias = wte + tensors_[3].offset;
    double loss = 0;
    for (int n = 0; n < N_; ++n) {
      float* h = &h_[size_t(n) * C];
      for (int c = 0; c < C; ++c) h[c] = wte[size_t(tokens[n]) * C + c] + wpe[(n % T) * C + c];
      float* p = &probs_[size_t(n) * V];
      float maxLogit = -1e30f;
      for (int v = 0; v < V; ++v) {
        float z = bias[v];
        for (int c = 0; c < C; ++c) z += h[c] * w[size_t(c) * V + v];
        p[v] = logits_[size_t(n) * V + v] = z;
        maxLogit = std::max(maxLogit, z);
      }
      double sum = 0;
      for (int v = 0; v < V; ++v) sum += p[v] = std::exp(p[v] - maxLogit);
      for (int v = 0; v < V; ++v) p[v] = static_cast<float>(p[v] / sum);
      loss -= std::log(std::max(p[targets[n]], 1e-30f));
    }
    return N_ > 0 ? static_cast<float>(loss / N_) : 0.0f;
  }

  void backward(float lossScale, const std::function<void(int)>& gradReady) override {
    const int V = config_.vocab, C = config_.width;
    float* g = grads_.data();
    float* dwte = g;
    float* dwpe = g + tensors_[1].offset;
    float* dw = g + tensors_[2].offset;
    float* dbias = g + tensors_[3].offset;
    const float* w = params_.data() + tensors_[2].offset;
    std::vector<float> dlogits(size_t(N_) * V);
    for (int n = 0; n < N_; ++n)
      for (int v = 0; v < V; ++v)
        dlogits[size_t(n) * V + v] =
            (probs_[size_t(n) * V + v] - (v == targets_[n] ? 1.0f : 0.0f)) * lossScale / N_;
    for (int n = 0; n < N_; ++n)
      for (int v = 0; v < V; ++v) dbias[v] += dlogits[size_t(n) * V + v];
    gradReady(3);
    for (int n = 0; n < N_; ++n)
      for (int c = 0; c < C; ++c)
        for (int v = 0; v < V; ++v)
          dw[size_t(c) * V + v] += h_[size_t(n) * C + c] * dlogits[size_t(n) * V + v];
    gradReady(2);
    std::vector<float> dh(size_t(N_) * C, 0.0f);
    for (int n = 0; n < N_; ++n)
      for (int c = 0; c < C; ++c) {
        float s = 0;
        for (int v = 0; v < V; ++v) s += dlogits[size_t(n) * V + v] * w[size_t(c) * V + v];
        dh[size_t(n) * C + c] = s;
      }
    for (int n = 0; n < N_; ++n)
      for (int c = 0; c < C; ++c) dwpe[(n % T_) * C + c] += dh[size_t(n) * C + c];
    gradReady(1);
    for (int n = 0; n < N_; ++n)
      for (int c = 0; c < C; ++c) dwte[size_t(tokens_[n]) * C + c] += dh[size_t(n) * C + c];
    gradReady(0);
  }

 private:
  ModelConfig config_;
  std::vector<ParamTensor> tensors_;
  size_t numParams_ = 0;
  std::vector<float> params_, grads_, h_, logits_, probs_;
  std::vector<int32_t> tokens_, targets_;
  int N_ = 0, T_ = 1;
};

}  // namespace

std::unique_ptr<Model> makeTinyModel(const ModelConfig& config, uint64_t seed) {
  return std::make_unique<TinyModel>(config, seed);
}

}  // namespace braid::train::testing

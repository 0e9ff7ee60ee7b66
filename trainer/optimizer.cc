// AdamW, the learning-rate schedule and the gradient norm (see optimizer.h).
#include "optimizer.h"

#include <algorithm>
#include <cmath>

namespace braid::train {

AdamW::AdamW(const AdamWConfig& config, const std::vector<ParamTensor>& tensors, size_t begin,
             size_t end)
    : config_(config), begin_(begin), end_(std::max(begin, end)) {
  const size_t n = end_ - begin_;
  decay_.assign(n, 1);
  for (const ParamTensor& t : tensors) {
    const size_t lo = std::max(t.offset, begin_), hi = std::min(t.offset + t.size, end_);
    for (size_t i = lo; i < hi; ++i) decay_[i - begin_] = t.decay ? 1 : 0;
  }
  m_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
}

void AdamW::step(float* params, const float* grads, float lr) {
  ++t_;
  const float b1 = config_.beta1, b2 = config_.beta2, eps = config_.eps;
  const float correction1 = static_cast<float>(1.0 - std::pow(double{b1}, double(t_)));
  const float correction2 = static_cast<float>(1.0 - std::pow(double{b2}, double(t_)));
  const float decay = lr * config_.weightDecay;
  float* p = params + begin_;
  const float* g = grads + begin_;
  float* m = m_.data();
  float* v = v_.data();
  const uint8_t* d = decay_.data();
  const long long n = static_cast<long long>(end_ - begin_);
#pragma omp simd
  for (long long i = 0; i < n; ++i) {
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    const float mHat = m[i] / correction1;
    const float vHat = v[i] / correction2;
    p[i] -= lr * mHat / (std::sqrt(vHat) + eps) + (d[i] ? decay * p[i] : 0.0f);
  }
}

float LrSchedule::at(int step) const {
  step = std::max(step, 0);
  if (warmupSteps > 0 && step < warmupSteps) {
    return maxLr * static_cast<float>(step + 1) / static_cast<float>(warmupSteps);
  }
  const int decaySteps = totalSteps - warmupSteps;
  if (decaySteps <= 0 || step >= totalSteps) return minLr;
  const double progress = static_cast<double>(step - warmupSteps) / decaySteps;
  const double cosine = 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
  return static_cast<float>(minLr + (maxLr - minLr) * cosine);
}

double gradSumSquares(const float* grads, size_t n) {
  double sum = 0.0;
  const long long count = static_cast<long long>(n);
#pragma omp simd reduction(+ : sum)
  for (long long i = 0; i < count; ++i) sum += double{grads[i]} * grads[i];
  return sum;
}

double gradNorm(const float* grads, size_t n) { return std::sqrt(gradSumSquares(grads, n)); }

}  // namespace braid::train

// Test stand-in for AdamW, LrSchedule and gradNorm until trainer/optimizer.cc exists: the
// build compiles this file only when trainer/optimizer.cc is absent (trainer/CMakeLists.txt).
#include <cmath>

#include "optimizer.h"

namespace braid::train {

AdamW::AdamW(const AdamWConfig& config, const std::vector<ParamTensor>& tensors, size_t begin,
             size_t end)
    : config_(config), begin_(begin), end_(end) {
  decay_.assign(end - begin, 0);
  for (const ParamTensor& t : tensors)
    for (size_t i = std::max(t.offset, begin); i < std::min(t.offset + t.size, end); ++i)
      decay_[i - begin] = t.decay ? 1 : 0;
  m_.assign(end - begin, 0.0f);
  v_.assign(end - begin, 0.0f);
}

void AdamW::step(float* params, const float* grads, float lr) {
  ++t_;
  float c1 = 1.0f - std::pow(config_.beta1, float(t_)),
        c2 = 1.0f - std::pow(config_.beta2, float(t_));
  for (size_t i = begin_; i < end_; ++i) {
    size_t k = i - begin_;
    float g = grads[i];
    m_[k] = config_.beta1 * m_[k] + (1 - config_.beta1) * g;
    v_[k] = config_.beta2 * v_[k] + (1 - config_.beta2) * g * g;
    float update = (m_[k] / c1) / (std::sqrt(v_[k] / c2) + config_.eps);
    if (decay_[k]) update += config_.weightDecay * params[i];
    params[i] -= lr * update;
  }
}

float LrSchedule::at(int step) const {
  if (step < warmupSteps) return maxLr * float(step + 1) / float(warmupSteps);
  if (step >= totalSteps) return minLr;
  double progress = double(step - warmupSteps) / std::max(1, totalSteps - warmupSteps);
  return minLr + float(0.5 * (1 + std::cos(M_PI * progress))) * (maxLr - minLr);
}

double gradNorm(const float* grads, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += double(grads[i]) * grads[i];
  return std::sqrt(sum);
}

}  // namespace braid::train

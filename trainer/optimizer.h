// AdamW (decoupled weight decay) and the learning-rate schedule (linear warmup, cosine decay to
// a floor). The optimizer updates any range [begin, end) of the flat parameter array, so ZeRO-1
// can give each rank only its shard's moments; decay follows the tensors' `decay` flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "model.h"

namespace braid::train {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weightDecay = 0.1f;
};

class AdamW {
 public:
  // Moments for elements [begin, end) of a flat array described by `tensors`.
  AdamW(const AdamWConfig& config, const std::vector<ParamTensor>& tensors, size_t begin,
        size_t end);
  // One step (t = stepsTaken()+1) on params[begin, end) with grads[begin, end) (both indexed
  // by flat position, i.e. the same pointers for every shard).
  void step(float* params, const float* grads, float lr);
  size_t begin() const { return begin_; }
  size_t end() const { return end_; }
  uint64_t stepsTaken() const { return t_; }
  // State for checkpoints: m and v for [begin, end) and the step count.
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  void setStepsTaken(uint64_t t) { t_ = t; }
 private:
  AdamWConfig config_;
  size_t begin_, end_;
  std::vector<uint8_t> decay_;  // per element of [begin, end)
  std::vector<float> m_, v_;
  uint64_t t_ = 0;
};

struct LrSchedule {
  float maxLr = 3e-3f;
  float minLr = 3e-4f;  // the floor
  int warmupSteps = 100;
  int totalSteps = 1600;
  float at(int step) const;  // linear warmup from maxLr/warmup, cosine to minLr by totalSteps
};

// Global L2 norm of grads (n elements) — for clipping; callers scale by min(1, maxNorm/norm).
double gradNorm(const float* grads, size_t n);
// Sum of squares of grads, accumulated in double: a shard's part of the squared global norm
// (ZeRO-1 ranks sum theirs across ranks, then take the root).
double gradSumSquares(const float* grads, size_t n);

}  // namespace braid::train

// Helpers shared by the trainer tests: the corpus path, batches from a sampler, a plain
// single-process training loop (AdamW, warmup + cosine, clipping) and the validation loss.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "trainer/data.h"
#include "trainer/model.h"
#include "trainer/optimizer.h"

namespace braid::train::testing {

inline std::string corpusPath() { return BRAID_SOURCE_DIR "/../shared/data/tinyshakespeare.txt"; }

// B windows of T+1 tokens from the sampler as inputs and shifted targets.
inline void nextBatch(const std::vector<int32_t>& tokens, DistributedSampler& sampler, int B, int T,
                      std::vector<int32_t>* inputs, std::vector<int32_t>* targets) {
  inputs->resize(static_cast<size_t>(B) * T);
  targets->resize(static_cast<size_t>(B) * T);
  for (int b = 0; b < B; ++b) {
    const size_t start = sampler.next();
    std::copy_n(tokens.begin() + start, T, inputs->begin() + b * T);
    std::copy_n(tokens.begin() + start + 1, T, targets->begin() + b * T);
  }
}

// Mean loss over every full window of `tokens` (stride T), in batches of B.
inline double validationLoss(Model& model, const std::vector<int32_t>& tokens, int B, int T) {
  std::vector<int32_t> in, out;
  double sum = 0.0;
  size_t windows = 0;
  for (size_t start = 0; start + T + 1 <= tokens.size();) {
    in.clear();
    out.clear();
    int b = 0;
    for (; b < B && start + T + 1 <= tokens.size(); ++b, start += T) {
      in.insert(in.end(), tokens.begin() + start, tokens.begin() + start + T);
      out.insert(out.end(), tokens.begin() + start + 1, tokens.begin() + start + T + 1);
    }
    sum += static_cast<double>(model.forward(in.data(), out.data(), b, T)) * b;
    windows += b;
  }
  return windows ? sum / windows : 0.0;
}

struct TrainRun {
  ModelConfig config;
  int batch = 12;
  int steps = 1600;
  LrSchedule schedule;
  AdamWConfig adam;
  float clip = 1.0f;
  uint64_t seed = 1337;
  int threads = 2;
};

// Trains on `train`; calls onStep(step, loss) after every step. Returns the model.
inline std::unique_ptr<Model> trainModel(const TrainRun& run, const std::vector<int32_t>& train,
                                         const std::function<void(int, float)>& onStep) {
  std::unique_ptr<Model> model = Model::create(run.config, run.seed, run.threads);
  const int T = run.config.context;
  DistributedSampler sampler(train.size(), T, 0, 1, run.seed);
  AdamW adam(run.adam, model->tensors(), 0, model->numParams());
  std::vector<int32_t> in, out;
  for (int step = 0; step < run.steps; ++step) {
    nextBatch(train, sampler, run.batch, T, &in, &out);
    const float loss = model->forward(in.data(), out.data(), run.batch, T);
    model->zeroGrad();
    model->backward(1.0f, {});
    const double norm = gradNorm(model->grads(), model->numParams());
    if (run.clip > 0 && norm > run.clip) {
      const float s = static_cast<float>(run.clip / norm);
      for (size_t i = 0; i < model->numParams(); ++i) model->grads()[i] *= s;
    }
    adam.step(model->params(), model->grads(), run.schedule.at(step));
    if (onStep) onStep(step, loss);
  }
  return model;
}

}  // namespace braid::train::testing

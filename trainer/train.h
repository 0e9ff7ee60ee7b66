// The data-parallel training loop of braid-train: every rank runs train() with the same
// options; ranks meet only through braid collectives. Three ways to combine the ranks:
//   - default: bucketed gradient allReduce overlapped with backward (ddp.h), then AdamW on
//     every rank (the same update everywhere);
//   - zero = 1: reduce-scatter of the gradients, AdamW on the rank's 1/N shard, allgather of the
//     parameters (ZeRO-1);
//   - syncEvery = K: local SGD; each rank steps on its own gradients, parameters are averaged
//     every K steps (and at the end).
// Every step draws the same global batch of `batch` windows per micro-step whatever the number
// of ranks (each rank computes its contiguous share and weights it by share/batch), so a run's
// losses do not depend on how many ranks compute them.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "braid/communicator.h"
#include "model.h"
#include "optimizer.h"

namespace braid::train {

using ModelFactory =
    std::function<std::unique_ptr<Model>(const ModelConfig& config, uint64_t seed, int threads)>;

struct TrainOptions {
  ModelConfig model;
  int batch = 12;  // windows per micro-step, all ranks together
  int accum = 1;   // micro-steps per optimizer step
  int steps = 1600;
  float lr = 3e-3f, minLr = 3e-4f;
  int warmup = 100;
  AdamWConfig adam;
  float clip = 1.0f;  // global gradient-norm clip; 0 = off
  int zero = 0;       // 0 or 1
  int syncEvery = 0;  // > 0: local SGD, parameters averaged every syncEvery steps
  double bucketMb = 25, firstBucketMb = 1;
  // > 0: compute the batch as this many fixed shards summed in a fixed order, so runs on any
  // number of ranks dividing it are bitwise equal (deterministic.h).
  int deterministic = 0;
  double valFraction = 0.1;
  int evalEvery = 0, evalBatches = 8;
  int sampleEvery = 0, sampleTokens = 200;
  std::string prompt = "\n";
  float temperature = 0.8f;
  std::string checkpointDir;
  int checkpointEvery = 0;
  bool resume = false;
  std::string logFile;   // JSON lines, written by rank 0
  bool progress = true;  // one line per step on rank 0's stdout
  int threads = 1;
  uint64_t seed = 1337;
  int killAtStep = -1, killRank = 1;  // testing: SIGKILL rank killRank when this step starts
  ModelFactory makeModel = Model::create;
};

struct StepRecord {
  int step = 0;  // 0-based index of the step
  double loss = 0, lr = 0, gradNorm = 0, tokensPerSecond = 0, commSeconds = 0;
  double val = std::numeric_limits<double>::quiet_NaN();  // when evaluated after this step
  uint64_t bytesReduced = 0;
  bool synced = true;  // local SGD: false when loss is rank 0's own (no averaging this step)
};

struct TrainResult {
  std::vector<StepRecord> steps;  // those run by this call (after a resume: from there on)
  int firstStep = 0;
  double seconds = 0;
  std::string lastSample;
  std::unique_ptr<Model> model;  // the trained model (this rank's)
};

// Trains on `tokens` (the whole corpus; the last valFraction is validation data).
Result<TrainResult> train(Communicator& comm, const TrainOptions& options,
                          const std::vector<int32_t>& tokens, int vocab);

}  // namespace braid::train

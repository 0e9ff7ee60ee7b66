// Data-parallel gradient synchronisation on braid: the flat gradient array is cut into buckets
// (plan.h), and each bucket's allReduce starts on braid's background thread as soon as backward
// has finished every tensor in it, so communication overlaps the rest of backward. finish()
// waits for all of them before the optimizer step.
//
// The reduction is a sum: the caller scales each rank's loss by its weight M_n / M (its share
// of the global batch, divided by the number of accumulation micro-steps), so the sum is the
// global mean gradient even when ranks hold different numbers of examples.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "braid/communicator.h"
#include "model.h"
#include "plan.h"

namespace braid::train {

// What synchronisation cost, accumulated until reset.
struct CommStats {
  double waitSeconds = 0;     // time the trainer was blocked on communication
  uint64_t bytesReduced = 0;  // payload bytes handed to collectives
  int collectives = 0;
};

class GradientSync {
 public:
  GradientSync(Communicator& comm, const std::vector<ParamTensor>& tensors, float* grads,
               size_t firstBucketBytes, size_t bucketBytes, CommStats* stats);

  // Arms the buckets for one backward (the last micro-step's).
  void begin();
  // Backward's gradReady callback: launches, in bucket order, every bucket now complete.
  void gradReady(int tensor);
  // Launches what is left and waits for every bucket's allReduce.
  Status finish();

  const std::vector<Bucket>& buckets() const { return buckets_; }
  // How many buckets were launched before the backward that armed them returned (set by the
  // caller's gradReady calls; for tests of the overlap).
  int launched() const { return nextLaunch_; }

 private:
  void launchReady();

  Communicator& comm_;
  float* grads_;
  std::vector<Bucket> buckets_;
  std::vector<int> bucketOf_;  // tensor -> bucket (-1: empty tensor)
  std::vector<int> pending_;   // per bucket: tensors not ready yet
  std::vector<Work> work_;
  int nextLaunch_ = 0;
  CommStats* stats_;
};

// ZeRO-1: reduce-scatters the gradients so each rank holds the global gradient of its shard
// (shardRange), and allgathers the parameters after the rank's optimizer updated its shard.
// The flat arrays are copied into buffers padded to ranks * shardSize.
class ZeroSync {
 public:
  ZeroSync(Communicator& comm, size_t numParams, CommStats* stats);
  const ShardRange& shard() const { return shard_; }
  // grads (numParams) -> the reduced shard, written to grads[shard.begin, shard.end).
  Status reduceScatter(float* grads);
  // Sum of squares of the reduced gradient over every shard.
  Result<double> globalSquaredNorm(const float* grads);
  // Every rank's shard of params -> params on every rank.
  Status allGather(float* params);

 private:
  Communicator& comm_;
  size_t numParams_;
  ShardRange shard_;
  std::vector<float> padded_;
  CommStats* stats_;
};

// Model averaging (local SGD): params = sum over ranks of weight_n * params_n.
Status averageParams(Communicator& comm, float* params, size_t n, double weight, CommStats* stats);

// Blocks on w, adding the time spent to stats.
Status timedWait(const Work& w, CommStats* stats);

}  // namespace braid::train

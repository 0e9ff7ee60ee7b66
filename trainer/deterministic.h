// Bitwise-reproducible gradients whatever the number of ranks (--deterministic S): the global
// batch is always computed as S fixed shards, each shard's gradient separately, and the S
// gradients are added in one fixed pairwise tree on every rank after an allGather. A run on
// any number of ranks that divides S therefore does exactly the same float operations, so 1,
// 2, ... ranks give bit-identical losses and parameters (given a model whose result for a
// shard does not depend on the rank running it; the same --threads keeps that true).
// The price: S gradient copies gathered on every rank instead of one allReduce.
#pragma once

#include <cstddef>
#include <vector>

#include "braid/communicator.h"
#include "ddp.h"

namespace braid::train {

// Adds count buffers of n floats (laid out one after another) pairwise into the first:
// ((b0 + b1) + (b2 + b3)) + ... — the same order for any caller.
void treeSum(float* buffers, size_t count, size_t n);
double treeSum(std::vector<double> values);

class ShardedGradients {
 public:
  // shards must be a multiple of comm.size(); this rank computes shards
  // [rank * shards / size, (rank + 1) * shards / size).
  ShardedGradients(Communicator& comm, int shards, size_t numParams, CommStats* stats);
  int shards() const { return shards_; }
  int firstShard() const { return first_; }
  int shardsHere() const { return perRank_; }
  // Where this rank's j-th shard gradient goes (numParams floats).
  float* slot(int j);
  // Gathers every shard's gradient and writes their tree sum to grads (on every rank).
  Status reduce(float* grads);
  // The same for one value per shard (this rank's perRank values, in shard order).
  Result<double> reduce(const std::vector<double>& mine);

 private:
  Communicator& comm_;
  int shards_, perRank_, first_;
  size_t n_;
  std::vector<float> all_;
  CommStats* stats_;
};

}  // namespace braid::train

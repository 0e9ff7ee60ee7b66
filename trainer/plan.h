// The pure arithmetic of data parallelism, apart from any data movement: which gradient
// tensors share a bucket, which part of the global batch each rank computes and with what
// weight, and which range of the flat parameter array each rank owns under ZeRO-1.
#pragma once

#include <cstddef>
#include <vector>

#include "model.h"

namespace braid::train {

// A contiguous range [begin, end) of the flat gradient array holding whole tensors.
struct Bucket {
  size_t begin = 0, end = 0;
  std::vector<int> tensors;  // indices into the model's tensor list
};

// Groups tensors into buckets walking from the highest offset down (the order in which
// backward finishes them): the first bucket closes once it holds firstBytes, the others once
// they hold bucketBytes (a tensor larger than that is a bucket of its own). Bucket 0 holds the
// highest offsets. Tensors must tile [0, numParams) without gaps.
std::vector<Bucket> planBuckets(const std::vector<ParamTensor>& tensors, size_t firstBytes,
                                size_t bucketBytes);

// Rank `rank`'s part of a global batch of `batch` examples: `count` examples starting at
// `offset`. The first batch % ranks ranks take one more.
struct BatchShare {
  int offset = 0, count = 0;
  // count / batch: the weight of this rank's mean gradient in the global mean (M_n / M).
  double weight = 0;
};
BatchShare batchShare(int batch, int rank, int ranks);

// ZeRO-1: the flat array padded to ranks * shardSize; rank r owns [r*shardSize, (r+1)*shardSize)
// of it, i.e. [begin, end) of the real parameters (empty for ranks past the end).
struct ShardRange {
  size_t shardSize = 0, begin = 0, end = 0;
};
ShardRange shardRange(size_t numParams, int rank, int ranks);

}  // namespace braid::train

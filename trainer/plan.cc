// Bucket planning, batch shares and ZeRO shard ranges (see plan.h).
#include "plan.h"

#include <algorithm>
#include <numeric>

namespace braid::train {

std::vector<Bucket> planBuckets(const std::vector<ParamTensor>& tensors, size_t firstBytes,
                                size_t bucketBytes) {
  std::vector<int> order(tensors.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return tensors[a].offset > tensors[b].offset; });
  std::vector<Bucket> buckets;
  Bucket current;
  size_t limit = firstBytes;
  for (int t : order) {
    const ParamTensor& p = tensors[t];
    if (p.size == 0) continue;
    if (current.tensors.empty()) current.end = p.offset + p.size;
    current.begin = p.offset;
    current.tensors.push_back(t);
    if ((current.end - current.begin) * sizeof(float) >= limit) {
      buckets.push_back(std::move(current));
      current = Bucket{};
      limit = bucketBytes;
    }
  }
  if (!current.tensors.empty()) buckets.push_back(std::move(current));
  return buckets;
}

BatchShare batchShare(int batch, int rank, int ranks) {
  BatchShare s;
  int base = batch / ranks, extra = batch % ranks;
  s.count = base + (rank < extra ? 1 : 0);
  s.offset = rank * base + std::min(rank, extra);
  s.weight = batch > 0 ? static_cast<double>(s.count) / batch : 0.0;
  return s;
}

ShardRange shardRange(size_t numParams, int rank, int ranks) {
  ShardRange s;
  s.shardSize = (numParams + ranks - 1) / ranks;
  s.begin = std::min(numParams, rank * s.shardSize);
  s.end = std::min(numParams, (rank + 1) * s.shardSize);
  return s;
}

}  // namespace braid::train

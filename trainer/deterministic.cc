// Fixed-order shard gradients (see deterministic.h).
#include "deterministic.h"

#include <cstring>

namespace braid::train {

void treeSum(float* buffers, size_t count, size_t n) {
  for (size_t step = 1; step < count; step *= 2)
    for (size_t i = 0; i + step < count; i += 2 * step) {
      float* a = buffers + i * n;
      const float* b = buffers + (i + step) * n;
      for (size_t k = 0; k < n; ++k) a[k] += b[k];
    }
}

double treeSum(std::vector<double> v) {
  for (size_t step = 1; step < v.size(); step *= 2)
    for (size_t i = 0; i + step < v.size(); i += 2 * step) v[i] += v[i + step];
  return v.empty() ? 0.0 : v[0];
}

ShardedGradients::ShardedGradients(Communicator& comm, int shards, size_t numParams,
                                   CommStats* stats)
    : comm_(comm),
      shards_(shards),
      perRank_(shards / comm.size()),
      first_(comm.rank() * perRank_),
      n_(numParams),
      all_(static_cast<size_t>(shards) * numParams),
      stats_(stats) {}

float* ShardedGradients::slot(int j) { return all_.data() + (first_ + j) * n_; }

Status ShardedGradients::reduce(float* grads) {
  size_t count = perRank_ * n_;
  stats_->bytesReduced += all_.size() * sizeof(float);
  ++stats_->collectives;
  BRAID_RETURN_IF_ERROR(
      timedWait(comm_.allGatherAsync(slot(0), all_.data(), count, DataType::kFloat32), stats_));
  treeSum(all_.data(), shards_, n_);
  std::memcpy(grads, all_.data(), n_ * sizeof(float));
  return Status::ok();
}

Result<double> ShardedGradients::reduce(const std::vector<double>& mine) {
  std::vector<double> all(shards_);
  std::copy(mine.begin(), mine.end(), all.begin() + first_);
  ++stats_->collectives;
  Status s = timedWait(
      comm_.allGatherAsync(all.data() + first_, all.data(), perRank_, DataType::kFloat64), stats_);
  if (!s.isOk()) return s;
  return treeSum(all);
}

}  // namespace braid::train

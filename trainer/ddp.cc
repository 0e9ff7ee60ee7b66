// Bucketed, overlapped gradient allReduce; ZeRO-1 reduce-scatter/allgather; model averaging.
#include "ddp.h"

#include <algorithm>
#include <cstring>

namespace braid::train {

using Clock = std::chrono::steady_clock;

Status timedWait(const Work& w, CommStats* stats) {
  auto t0 = Clock::now();
  Status s = w.wait();
  stats->waitSeconds += std::chrono::duration<double>(Clock::now() - t0).count();
  return s;
}

GradientSync::GradientSync(Communicator& comm, const std::vector<ParamTensor>& tensors,
                           float* grads, size_t firstBucketBytes, size_t bucketBytes,
                           CommStats* stats)
    : comm_(comm), grads_(grads), stats_(stats) {
  buckets_ = planBuckets(tensors, firstBucketBytes, bucketBytes);
  bucketOf_.assign(tensors.size(), -1);
  for (size_t b = 0; b < buckets_.size(); ++b)
    for (int t : buckets_[b].tensors) bucketOf_[t] = static_cast<int>(b);
  begin();
}

void GradientSync::begin() {
  pending_.clear();
  for (const Bucket& b : buckets_) pending_.push_back(static_cast<int>(b.tensors.size()));
  work_.assign(buckets_.size(), Work());
  nextLaunch_ = 0;
}

void GradientSync::gradReady(int tensor) {
  if (tensor < 0 || tensor >= static_cast<int>(bucketOf_.size()) || bucketOf_[tensor] < 0) return;
  --pending_[bucketOf_[tensor]];
  launchReady();
}

// Buckets start strictly in order so that every rank issues the same sequence of collectives
// even if its backward finished tensors in another order.
void GradientSync::launchReady() {
  while (nextLaunch_ < static_cast<int>(buckets_.size()) && pending_[nextLaunch_] <= 0) {
    const Bucket& b = buckets_[nextLaunch_];
    float* p = grads_ + b.begin;
    work_[nextLaunch_] =
        comm_.allReduceAsync(p, p, b.end - b.begin, DataType::kFloat32, ReduceOp::kSum);
    stats_->bytesReduced += (b.end - b.begin) * sizeof(float);
    ++stats_->collectives;
    ++nextLaunch_;
  }
}

Status GradientSync::finish() {
  for (int& p : pending_) p = 0;  // tensors backward never reported (unused) are final too
  launchReady();
  Status first;
  for (const Work& w : work_) {
    Status s = timedWait(w, stats_);
    if (first.isOk() && !s.isOk()) first = s;
  }
  begin();
  return first;
}

ZeroSync::ZeroSync(Communicator& comm, size_t numParams, CommStats* stats)
    : comm_(comm),
      numParams_(numParams),
      shard_(shardRange(numParams, comm.rank(), comm.size())),
      stats_(stats) {
  padded_.assign(shard_.shardSize * comm.size(), 0.0f);
}

Status ZeroSync::reduceScatter(float* grads) {
  std::memcpy(padded_.data(), grads, numParams_ * sizeof(float));
  float* mine = padded_.data() + comm_.rank() * shard_.shardSize;
  stats_->bytesReduced += padded_.size() * sizeof(float);
  ++stats_->collectives;
  BRAID_RETURN_IF_ERROR(timedWait(comm_.reduceScatterAsync(padded_.data(), mine, shard_.shardSize,
                                                           DataType::kFloat32, ReduceOp::kSum),
                                  stats_));
  std::memcpy(grads + shard_.begin, mine, (shard_.end - shard_.begin) * sizeof(float));
  return Status::ok();
}

Result<double> ZeroSync::globalSquaredNorm(const float* grads) {
  double sum = 0;
  for (size_t i = shard_.begin; i < shard_.end; ++i) sum += double(grads[i]) * grads[i];
  ++stats_->collectives;
  Status s =
      timedWait(comm_.allReduceAsync(&sum, &sum, 1, DataType::kFloat64, ReduceOp::kSum), stats_);
  if (!s.isOk()) return s;
  return sum;
}

Status ZeroSync::allGather(float* params) {
  float* mine = padded_.data() + comm_.rank() * shard_.shardSize;
  std::memcpy(mine, params + shard_.begin, (shard_.end - shard_.begin) * sizeof(float));
  stats_->bytesReduced += padded_.size() * sizeof(float);
  ++stats_->collectives;
  BRAID_RETURN_IF_ERROR(timedWait(
      comm_.allGatherAsync(mine, padded_.data(), shard_.shardSize, DataType::kFloat32), stats_));
  std::memcpy(params, padded_.data(), numParams_ * sizeof(float));
  return Status::ok();
}

Status averageParams(Communicator& comm, float* params, size_t n, double weight, CommStats* stats) {
  for (size_t i = 0; i < n; ++i) params[i] = static_cast<float>(params[i] * weight);
  stats->bytesReduced += n * sizeof(float);
  ++stats->collectives;
  return timedWait(comm.allReduceAsync(params, params, n, DataType::kFloat32, ReduceOp::kSum),
                   stats);
}

}  // namespace braid::train

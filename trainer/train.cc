// The training loop (see train.h): batches, the three synchronisation modes, evaluation,
// samples, checkpoints (rank 0 gathers every shard and writes one file; every rank reads it
// back on resume) and the per-step report.
#include "train.h"

#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "checkpoint.h"
#include "data.h"
#include "ddp.h"
#include "deterministic.h"
#include "plan.h"
#include "progress.h"
#include "sample.h"

namespace braid::train {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

class Trainer {
 public:
  Trainer(Communicator& comm, const TrainOptions& o, const std::vector<int32_t>& tokens, int vocab)
      : comm_(comm), o_(o), rank_(comm.rank()), ranks_(comm.size()), vocab_(vocab) {
    splitTrainVal(tokens, o.valFraction, &train_, &val_);
  }

  Result<TrainResult> run();

 private:
  bool local() const { return o_.syncEvery > 0; }
  Status init();
  Result<StepRecord> step(int s);
  std::vector<size_t> drawWindows();
  void fillBatch(const std::vector<size_t>& starts, int offset, int count);
  double localGradients();
  Result<double> shardedGradients();
  Result<double> weightedSum(double mine);
  Result<double> evaluate();
  std::string identity() const;
  Status gatherToRoot(const float* mine, const std::vector<size_t>& counts, CheckpointWriter* w,
                      Status* writeError);
  Status saveCheckpoint(uint64_t completed);
  Status loadCheckpoint();

  Communicator& comm_;
  const TrainOptions& o_;
  int rank_, ranks_, vocab_, T_ = 0;
  std::vector<int32_t> train_, val_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<AdamW> adam_;
  std::unique_ptr<GradientSync> gradSync_;
  std::unique_ptr<ZeroSync> zeroSync_;
  std::unique_ptr<ShardedGradients> sharded_;
  std::unique_ptr<DistributedSampler> sampler_;
  LrSchedule schedule_;
  BatchShare share_;
  std::vector<int32_t> x_, y_;
  std::mt19937_64 rng_;
  CommStats stats_;
  int startStep_ = 0;
  std::unique_ptr<RunLog> log_;
};

Status Trainer::init() {
  const ModelConfig& mc = o_.model;
  T_ = mc.context;
  if (o_.batch < ranks_)
    return invalidArgument("--batch " + std::to_string(o_.batch) + " is smaller than the " +
                           std::to_string(ranks_) + " ranks: every rank needs an example");
  if (o_.zero != 0 && o_.zero != 1) return invalidArgument("--zero must be 0 or 1");
  if (o_.zero == 1 && local())
    return invalidArgument("--zero 1 and --sync-every exclude each other");
  if (o_.deterministic > 0 &&
      (local() || o_.deterministic % ranks_ != 0 || o_.batch < o_.deterministic))
    return invalidArgument("--deterministic " + std::to_string(o_.deterministic) +
                           " needs a multiple of the " + std::to_string(ranks_) +
                           " ranks, at most --batch, and no --sync-every");
  if (train_.size() < static_cast<size_t>(T_) + 2 || val_.size() < static_cast<size_t>(T_) + 2)
    return invalidArgument("the data is too short for context " + std::to_string(T_) + " (train " +
                           std::to_string(train_.size()) + ", val " + std::to_string(val_.size()) +
                           " tokens)");
  for (const auto* part : {&train_, &val_})
    for (int32_t t : *part)
      if (t < 0 || t >= vocab_)
        return invalidArgument("token " + std::to_string(t) + " outside the vocabulary of " +
                               std::to_string(vocab_));
  ModelConfig config = mc;
  config.vocab = vocab_;
  model_ = o_.makeModel(config, o_.seed, o_.threads);
  size_t P = model_->numParams();
  size_t begin = 0, end = P;
  if (o_.deterministic > 0)
    sharded_ = std::make_unique<ShardedGradients>(comm_, o_.deterministic, P, &stats_);
  if (o_.zero == 1) {
    zeroSync_ = std::make_unique<ZeroSync>(comm_, P, &stats_);
    begin = zeroSync_->shard().begin;
    end = zeroSync_->shard().end;
  } else if (!local() && !sharded_) {
    gradSync_ = std::make_unique<GradientSync>(comm_, model_->tensors(), model_->grads(),
                                               static_cast<size_t>(o_.firstBucketMb * 1e6),
                                               static_cast<size_t>(o_.bucketMb * 1e6), &stats_);
  }
  adam_ = std::make_unique<AdamW>(o_.adam, model_->tensors(), begin, end);
  schedule_ = LrSchedule{o_.lr, o_.minLr, o_.warmup, o_.steps};
  // Every rank draws the same global stream of windows and keeps its share of each batch.
  sampler_ = std::make_unique<DistributedSampler>(train_.size(), T_, 0, 1, o_.seed);
  share_ = batchShare(o_.batch, rank_, ranks_);
  rng_.seed(o_.seed + 0x5eed);
  if (o_.resume) BRAID_RETURN_IF_ERROR(loadCheckpoint());
  if (rank_ == 0 && !o_.logFile.empty()) {
    auto log = RunLog::open(o_.logFile, o_.resume && startStep_ > 0);
    if (!log.isOk()) return log.status();
    log_ = std::move(log.value());
  }
  return Status::ok();
}

// The start offsets of the next global batch of windows (the same on every rank).
std::vector<size_t> Trainer::drawWindows() {
  std::vector<size_t> starts(o_.batch);
  for (size_t& start : starts) start = sampler_->next();
  return starts;
}

// x_, y_ = windows [offset, offset + count) of starts.
void Trainer::fillBatch(const std::vector<size_t>& starts, int offset, int count) {
  x_.resize(static_cast<size_t>(count) * T_);
  y_.resize(x_.size());
  for (int k = 0; k < count; ++k) {
    size_t start = starts[offset + k];
    std::copy_n(train_.begin() + start, T_, x_.begin() + static_cast<size_t>(k) * T_);
    std::copy_n(train_.begin() + start + 1, T_, y_.begin() + static_cast<size_t>(k) * T_);
  }
}

// This rank's share of every micro-batch; the last backward starts the bucket allReduces.
// Returns this rank's mean loss.
double Trainer::localGradients() {
  // Local SGD steps on this rank's own mean gradient; otherwise each rank's mean gradient is
  // weighted by its share of the batch so that the sum over ranks is the global mean.
  float scale = static_cast<float>((local() ? 1.0 : share_.weight) / o_.accum);
  double loss = 0;
  for (int micro = 0; micro < o_.accum; ++micro) {
    fillBatch(drawWindows(), share_.offset, share_.count);
    loss += model_->forward(x_.data(), y_.data(), share_.count, T_) / double(o_.accum);
    if (micro == o_.accum - 1 && gradSync_) {
      gradSync_->begin();
      model_->backward(scale, [&](int t) { gradSync_->gradReady(t); });
    } else {
      model_->backward(scale, [](int) {});
    }
  }
  return loss;
}

// --deterministic: each of this rank's shards separately (over every micro-step), then the
// fixed-order sum of all shards. Returns the global loss; grads() holds the global gradient.
Result<double> Trainer::shardedGradients() {
  std::vector<std::vector<size_t>> micro(o_.accum);
  for (auto& starts : micro) starts = drawWindows();
  std::vector<double> losses;
  for (int j = 0; j < sharded_->shardsHere(); ++j) {
    BatchShare sh = batchShare(o_.batch, sharded_->firstShard() + j, sharded_->shards());
    model_->zeroGrad();
    double loss = 0;
    for (const auto& starts : micro) {
      fillBatch(starts, sh.offset, sh.count);
      loss += model_->forward(x_.data(), y_.data(), sh.count, T_) / double(o_.accum);
      model_->backward(static_cast<float>(sh.weight / o_.accum), [](int) {});
    }
    std::copy_n(model_->grads(), model_->numParams(), sharded_->slot(j));
    losses.push_back(loss * sh.weight);
  }
  BRAID_RETURN_IF_ERROR(sharded_->reduce(model_->grads()));
  return sharded_->reduce(losses);
}

// sum over ranks of share weight * mine (the global mean of per-rank means).
Result<double> Trainer::weightedSum(double mine) {
  double v = mine * share_.weight;
  ++stats_.collectives;
  Status s =
      timedWait(comm_.allReduceAsync(&v, &v, 1, DataType::kFloat64, ReduceOp::kSum), &stats_);
  if (!s.isOk()) return s;
  return v;
}

Result<StepRecord> Trainer::step(int s) {
  if (s == o_.killAtStep && rank_ == o_.killRank) ::raise(SIGKILL);
  StepRecord r;
  r.step = s;
  r.lr = schedule_.at(s);
  CommStats before = stats_;
  auto t0 = Clock::now();
  float* params = model_->params();
  float* grads = model_->grads();
  size_t P = model_->numParams();
  model_->zeroGrad();
  double loss = 0, norm = 0;
  if (sharded_) {
    auto global = shardedGradients();
    if (!global.isOk()) return global.status();
    r.loss = *global;
    norm = gradNorm(grads, P);
  } else {
    loss = localGradients();
    if (gradSync_) {
      BRAID_RETURN_IF_ERROR(gradSync_->finish());
      norm = gradNorm(grads, P);
    } else if (zeroSync_) {
      BRAID_RETURN_IF_ERROR(zeroSync_->reduceScatter(grads));
      auto sq = zeroSync_->globalSquaredNorm(grads);
      if (!sq.isOk()) return sq.status();
      norm = std::sqrt(*sq);
    } else {
      norm = gradNorm(grads, P);  // local SGD: this rank's own
    }
  }
  r.gradNorm = norm;
  if (o_.clip > 0 && norm > o_.clip) {
    float c = static_cast<float>(o_.clip / norm);
    for (size_t i = adam_->begin(); i < adam_->end(); ++i) grads[i] *= c;
  }
  adam_->step(params, grads, static_cast<float>(r.lr));
  if (zeroSync_) BRAID_RETURN_IF_ERROR(zeroSync_->allGather(params));
  r.synced = !local() || (s + 1) % o_.syncEvery == 0 || s + 1 == o_.steps;
  if (local() && r.synced)
    BRAID_RETURN_IF_ERROR(averageParams(comm_, params, P, share_.weight, &stats_));
  if (!sharded_ && r.synced) {
    auto global = weightedSum(loss);
    if (!global.isOk()) return global.status();
    r.loss = *global;
  } else if (!sharded_) {
    r.loss = loss;  // local SGD between averagings: this rank's own
  }
  double seconds = since(t0);
  r.tokensPerSecond = double(o_.batch) * o_.accum * T_ / std::max(seconds, 1e-9);
  r.commSeconds = stats_.waitSeconds - before.waitSeconds;
  r.bytesReduced = stats_.bytesReduced - before.bytesReduced;
  return r;
}

// Mean loss over up to evalBatches * batch validation windows, split across ranks (under
// --deterministic: across the fixed shards, summed in the fixed order).
Result<double> Trainer::evaluate() {
  size_t windows = std::min<size_t>(size_t(o_.evalBatches) * o_.batch, (val_.size() - 1) / T_);
  int units = sharded_ ? sharded_->shards() : ranks_;
  int first = sharded_ ? sharded_->firstShard() : rank_;
  int here = sharded_ ? sharded_->shardsHere() : 1;
  int chunk = std::max(1, batchShare(o_.batch, first, units).count);
  std::vector<double> parts;
  std::vector<int32_t> x, y;
  for (int u = first; u < first + here; ++u) {
    BatchShare mine = batchShare(static_cast<int>(windows), u, units);
    double sum = 0;
    for (int done = 0; done < mine.count; done += chunk) {
      int b = std::min(chunk, mine.count - done);
      x.resize(size_t(b) * T_);
      y.resize(x.size());
      for (int i = 0; i < b; ++i) {
        size_t start = size_t(mine.offset + done + i) * T_;
        std::copy_n(val_.begin() + start, T_, x.begin() + size_t(i) * T_);
        std::copy_n(val_.begin() + start + 1, T_, y.begin() + size_t(i) * T_);
      }
      sum += double(model_->forward(x.data(), y.data(), b, T_)) * b;
    }
    parts.push_back(windows > 0 ? sum / double(windows) : 0.0);
  }
  if (sharded_) return sharded_->reduce(parts);
  double v = parts[0];
  ++stats_.collectives;
  Status st = comm_.allReduce(&v, &v, 1, DataType::kFloat64, ReduceOp::kSum);
  if (!st.isOk()) return st;
  return v;
}

std::string Trainer::identity() const {
  const ModelConfig& m = o_.model;
  std::ostringstream s;
  s << "vocab=" << vocab_ << " context=" << m.context << " layers=" << m.layers
    << " heads=" << m.heads << " width=" << m.width << " batch=" << o_.batch
    << " accum=" << o_.accum << " seed=" << o_.seed << " train_tokens=" << train_.size();
  return s.str();
}

// Rank 0 appends counts[q] floats from each rank q in rank order (its own from `mine`).
Status Trainer::gatherToRoot(const float* mine, const std::vector<size_t>& counts,
                             CheckpointWriter* w, Status* writeError) {
  if (rank_ != 0) {
    if (counts[rank_] == 0) return Status::ok();
    return comm_.send(mine, counts[rank_], DataType::kFloat32, 0);
  }
  std::vector<float> scratch;
  for (int q = 0; q < ranks_; ++q) {
    if (counts[q] == 0) continue;
    const float* data = mine;
    if (q != 0) {
      scratch.resize(counts[q]);
      BRAID_RETURN_IF_ERROR(comm_.recv(scratch.data(), counts[q], DataType::kFloat32, q));
      data = scratch.data();
    }
    if (writeError->isOk()) *writeError = w->append(data, counts[q]);
  }
  return Status::ok();
}

// Rank 0 writes one file: params (one replica, or one per rank in local SGD), then Adam m and v
// (gathered from every shard under ZeRO-1), so the file does not depend on the number of ranks
// except in local SGD.
Status Trainer::saveCheckpoint(uint64_t completed) {
  size_t P = model_->numParams();
  CheckpointHeader h;
  h.step = completed;
  h.samplerPosition = sampler_->position();
  h.adamSteps = adam_->stepsTaken();
  h.numParams = P;
  h.replicas = local() ? ranks_ : 1;
  h.identity = identity();
  std::ostringstream rng;
  rng << rng_;
  h.rngState = rng.str();
  std::unique_ptr<CheckpointWriter> w;
  Status writeError;
  if (rank_ == 0) {
    auto created = CheckpointWriter::create(o_.checkpointDir, h);
    if (created.isOk())
      w = std::move(created.value());
    else
      writeError = created.status();
  }
  std::vector<size_t> counts(ranks_, 0), stateCounts(ranks_, 0);
  for (int q = 0; q < ranks_; ++q) {
    counts[q] = (local() || q == 0) ? P : 0;
    stateCounts[q] =
        zeroSync_ ? shardRange(P, q, ranks_).end - shardRange(P, q, ranks_).begin : counts[q];
  }
  BRAID_RETURN_IF_ERROR(gatherToRoot(model_->params(), counts, w.get(), &writeError));
  BRAID_RETURN_IF_ERROR(gatherToRoot(adam_->m().data(), stateCounts, w.get(), &writeError));
  BRAID_RETURN_IF_ERROR(gatherToRoot(adam_->v().data(), stateCounts, w.get(), &writeError));
  if (rank_ == 0 && writeError.isOk()) writeError = w->commit();
  int ok = writeError.isOk() ? 1 : 0;
  BRAID_RETURN_IF_ERROR(comm_.broadcast(&ok, &ok, 1, DataType::kInt32, 0));
  if (!ok) return rank_ == 0 ? writeError : remoteError("rank 0 could not write the checkpoint");
  return Status::ok();
}

// Every rank reads the checkpoint `latest` names (the directory must be visible to all).
Status Trainer::loadCheckpoint() {
  auto opened = CheckpointReader::openLatest(o_.checkpointDir);
  if (!opened.isOk()) {
    if (rank_ == 0)
      std::printf("no checkpoint in '%s': starting from step 0\n", o_.checkpointDir.c_str());
    return Status::ok();
  }
  CheckpointReader& r = *opened.value();
  const CheckpointHeader& h = r.header();
  size_t P = model_->numParams();
  uint32_t replicas = local() ? ranks_ : 1;
  if (h.identity != identity())
    return invalidArgument("checkpoint '" + r.path() + "' is of another run (" + h.identity +
                           "; this run: " + identity() + ")");
  if (h.numParams != P || h.replicas != replicas)
    return invalidArgument("checkpoint '" + r.path() + "' holds " + std::to_string(h.replicas) +
                           " model(s) of " + std::to_string(h.numParams) + " parameters; " +
                           "this run needs " + std::to_string(replicas) + " of " +
                           std::to_string(P));
  uint32_t mine = local() ? rank_ : 0;
  for (uint32_t q = 0; q < replicas; ++q)
    BRAID_RETURN_IF_ERROR(r.read(q == mine ? model_->params() : nullptr, P));
  std::vector<float> full(P);
  for (std::vector<float>* state : {&adam_->m(), &adam_->v()}) {
    for (uint32_t q = 0; q < replicas; ++q) {
      BRAID_RETURN_IF_ERROR(r.read(q == mine ? full.data() : nullptr, P));
      if (q == mine)
        std::copy(full.begin() + adam_->begin(), full.begin() + adam_->end(), state->begin());
    }
  }
  BRAID_RETURN_IF_ERROR(r.finish());
  adam_->setStepsTaken(h.adamSteps);
  sampler_->seek(h.samplerPosition);
  std::istringstream rng(h.rngState);
  rng >> rng_;
  startStep_ = static_cast<int>(h.step);
  if (rank_ == 0) std::printf("resumed from '%s' at step %d\n", r.path().c_str(), startStep_);
  return Status::ok();
}

Result<TrainResult> Trainer::run() {
  BRAID_RETURN_IF_ERROR(init());
  if (rank_ == 0) {
    const ModelConfig& m = o_.model;
    std::string mode = o_.zero   ? "ZeRO-1"
                       : local() ? "local SGD, averaging every " + std::to_string(o_.syncEvery)
                                 : "allReduce";
    if (sharded_) mode += ", deterministic over " + std::to_string(o_.deterministic) + " shards";
    std::printf(
        "braid-train: %d rank(s) x %d thread(s); %zu parameters (%d layers, %d heads, "
        "width %d, context %d, vocab %d); %zu train / %zu val tokens; batch %d x accum "
        "%d; %s\n",
        ranks_, o_.threads, model_->numParams(), m.layers, m.heads, m.width, m.context, vocab_,
        train_.size(), val_.size(), o_.batch, o_.accum, mode.c_str());
    std::fflush(stdout);
  }
  TrainResult result;
  result.firstStep = startStep_;
  auto t0 = Clock::now();
  double stepSeconds = 0;
  for (int s = startStep_; s < o_.steps; ++s) {
    auto ts = Clock::now();
    auto r = step(s);
    if (!r.isOk()) return r.status();
    stepSeconds += since(ts);
    StepRecord& rec = r.value();
    bool last = s + 1 == o_.steps;
    if (o_.evalEvery > 0 && ((s + 1) % o_.evalEvery == 0 || last)) {
      auto val = evaluate();
      if (!val.isOk()) return val.status();
      rec.val = *val;
    }
    if (rank_ == 0) {
      if (o_.progress) {
        double eta = stepSeconds / (s + 1 - startStep_) * (o_.steps - s - 1);
        std::printf("%s\n", progressLine(rec, o_.steps, eta).c_str());
        std::fflush(stdout);
      }
      if (log_) log_->step(rec);
      if (o_.sampleEvery > 0 && vocab_ == 256 && ((s + 1) % o_.sampleEvery == 0 || last)) {
        result.lastSample = generate(*model_, o_.prompt, o_.sampleTokens, o_.temperature, rng_);
        std::printf("sample after step %d:\n%s%s\n", s + 1, printable(o_.prompt).c_str(),
                    printable(result.lastSample).c_str());
        std::fflush(stdout);
        if (log_) log_->sample(s, result.lastSample);
      }
    }
    if (o_.checkpointEvery > 0 && (s + 1) % o_.checkpointEvery == 0)
      BRAID_RETURN_IF_ERROR(saveCheckpoint(static_cast<uint64_t>(s + 1)));
    result.steps.push_back(rec);
  }
  result.seconds = since(t0);
  result.model = std::move(model_);
  return result;
}

}  // namespace

Result<TrainResult> train(Communicator& comm, const TrainOptions& options,
                          const std::vector<int32_t>& tokens, int vocab) {
  Trainer t(comm, options, tokens, vocab);
  return t.run();
}

}  // namespace braid::train

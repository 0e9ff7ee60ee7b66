// Training data: raw UTF-8 text through the byte-level tokenizer (vocabulary 256) or llm.c
// token shards (a 256 x int32 header: magic 20240520, version 1, token count; then uint16
// tokens), a train/val split, and the distributed sampler that gives each rank its own windows.
// Every malformed input is a clear error naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "braid/status.h"

namespace braid::train {

struct TokenData {
  std::vector<int32_t> tokens;
  int vocab = 256;  // 256 for text; llm.c shards: max token + 1 rounded up to a multiple of 64
};

// Loads a text file (byte tokens) or, when the file starts with the llm.c magic, a token shard.
Result<TokenData> loadTokens(const std::string& path);

// Splits off the last `valFraction` of the tokens as validation data.
void splitTrainVal(const std::vector<int32_t>& all, double valFraction,
                   std::vector<int32_t>* train, std::vector<int32_t>* val);

// Windows of T+1 tokens (inputs and shifted targets) at stride T over `tokens`. Each epoch the
// window order is shuffled from (seed, epoch); rank r of `ranks` takes its contiguous share of
// that order (shares differ by at most one window when they do not divide evenly — the driver
// weights gradients by share size). position() / seek() make the sampler checkpointable.
class DistributedSampler {
 public:
  DistributedSampler(size_t numTokens, int T, int rank, int ranks, uint64_t seed);
  // Why these arguments cannot work (T < 1, rank outside [0, ranks), fewer windows than ranks),
  // or OK. A sampler built from arguments that fail this returns 0 from next().
  static Status check(size_t numTokens, int T, int rank, int ranks);
  size_t windowsPerEpoch() const;  // this rank's share
  size_t totalWindows() const;     // all ranks
  // Start offset (into tokens) of the next window; advances, wrapping into the next epoch.
  size_t next();
  uint64_t position() const;  // windows drawn so far by this rank (epoch-spanning)
  void seek(uint64_t position);
  uint64_t epoch() const;
 private:
  void shuffle();
  size_t shareBegin() const;  // this rank's first index in each epoch's window order
  size_t numTokens_;
  int T_, rank_, ranks_;
  uint64_t seed_;
  uint64_t position_ = 0;
  uint64_t shuffledEpoch_ = ~uint64_t{0};
  std::vector<size_t> order_;  // this rank's window starts for the current epoch
};

}  // namespace braid::train

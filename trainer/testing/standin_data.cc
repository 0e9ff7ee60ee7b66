// Test stand-in for the data contract (data.h) until trainer/data.cc exists: the build compiles
// this file only when trainer/data.cc is absent (trainer/CMakeLists.txt). Text files only.
#include <algorithm>
#include <fstream>
#include <iterator>
#include <random>

#include "data.h"

namespace braid::train {

Result<TokenData> loadTokens(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalidArgument("cannot open '" + path + "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TokenData d;
  for (unsigned char b : bytes) d.tokens.push_back(b);
  return d;
}

void splitTrainVal(const std::vector<int32_t>& all, double valFraction, std::vector<int32_t>* train,
                   std::vector<int32_t>* val) {
  size_t nVal = static_cast<size_t>(all.size() * valFraction);
  train->assign(all.begin(), all.end() - nVal);
  val->assign(all.end() - nVal, all.end());
}

DistributedSampler::DistributedSampler(size_t numTokens, int T, int rank, int ranks, uint64_t seed)
    : numTokens_(numTokens), T_(T), rank_(rank), ranks_(ranks), seed_(seed) {}

size_t DistributedSampler::totalWindows() const {
  return numTokens_ > size_t(T_) ? (numTokens_ - 1) / T_ : 0;
}

size_t DistributedSampler::windowsPerEpoch() const {
  size_t n = totalWindows();
  return n / ranks_ + (size_t(rank_) < n % ranks_ ? 1 : 0);
}

uint64_t DistributedSampler::epoch() const { return position_ / windowsPerEpoch(); }

void DistributedSampler::shuffle() {
  size_t n = totalWindows();
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i * T_;
  std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + epoch());
  for (size_t i = n; i > 1; --i) std::swap(all[i - 1], all[rng() % i]);
  size_t base = n / ranks_, extra = n % ranks_;
  size_t first = rank_ * base + std::min<size_t>(rank_, extra);
  order_.assign(all.begin() + first, all.begin() + first + windowsPerEpoch());
  shuffledEpoch_ = epoch();
}

size_t DistributedSampler::next() {
  if (shuffledEpoch_ != epoch()) shuffle();
  size_t start = order_[position_ % windowsPerEpoch()];
  ++position_;
  return start;
}

uint64_t DistributedSampler::position() const { return position_; }
void DistributedSampler::seek(uint64_t position) { position_ = position; }

}  // namespace braid::train

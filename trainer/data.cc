// Token loading (text through the byte tokenizer, or llm.c shards), the train/val split, and the
// distributed sampler; see data.h. Files are read whole: the CPU trainer's corpora are small.
#include "data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "rng.h"

namespace braid::train {
namespace {

constexpr int32_t kShardMagic = 20240520;
constexpr int32_t kShardVersion = 1;
constexpr size_t kShardHeaderBytes = 256 * sizeof(int32_t);

Result<std::vector<uint8_t>> readFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return systemError("cannot open " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = systemError("cannot stat " + path);
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalidArgument(path + ": not a regular file");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = n < 0 ? systemError("cannot read " + path)
                       : invalidArgument(path + ": file shrank while being read");
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return bytes;
}

int32_t readInt32(const uint8_t* p) {  // little-endian, as llm.c writes it
  return static_cast<int32_t>(uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                              uint32_t{p[3]} << 24);
}

Result<TokenData> parseShard(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string what = path + ": llm.c token shard: ";
  if (bytes.size() < kShardHeaderBytes) {
    return invalidArgument(what + "truncated header (" + std::to_string(bytes.size()) + " of " +
                           std::to_string(kShardHeaderBytes) + " bytes)");
  }
  const int32_t version = readInt32(bytes.data() + 4);
  if (version != kShardVersion) {
    return invalidArgument(what + "unsupported version " + std::to_string(version) +
                           " (expected 1: uint16 tokens)");
  }
  const int32_t count = readInt32(bytes.data() + 8);
  if (count <= 0) {
    return invalidArgument(what + "header declares " + std::to_string(count) + " tokens");
  }
  const size_t expected = kShardHeaderBytes + 2 * static_cast<size_t>(count);
  if (bytes.size() != expected) {
    return invalidArgument(what + "header declares " + std::to_string(count) + " tokens (" +
                           std::to_string(expected) + " bytes) but the file has " +
                           std::to_string(bytes.size()) + " bytes" +
                           (bytes.size() < expected ? " (truncated)" : ""));
  }
  TokenData data;
  data.tokens.resize(count);
  int32_t maxToken = 0;
  const uint8_t* p = bytes.data() + kShardHeaderBytes;
  for (int32_t i = 0; i < count; ++i) {
    data.tokens[i] = int32_t{p[2 * i]} | int32_t{p[2 * i + 1]} << 8;
    maxToken = std::max(maxToken, data.tokens[i]);
  }
  data.vocab = (maxToken + 1 + 63) / 64 * 64;
  return data;
}

}  // namespace

Result<TokenData> loadTokens(const std::string& path) {
  Result<std::vector<uint8_t>> file = readFile(path);
  if (!file) return file.status();
  const std::vector<uint8_t>& bytes = file.value();
  if (bytes.size() >= 4 && readInt32(bytes.data()) == kShardMagic) return parseShard(path, bytes);
  if (bytes.empty()) return invalidArgument(path + ": empty file, no tokens");
  const void* nul = std::memchr(bytes.data(), 0, bytes.size());
  if (nul) {
    const size_t at = static_cast<const uint8_t*>(nul) - bytes.data();
    return invalidArgument(path + ": not text (NUL byte at offset " + std::to_string(at) +
                           ") and not an llm.c token shard (magic 20240520)");
  }
  TokenData data;
  data.tokens.assign(bytes.begin(), bytes.end());  // byte-level tokenizer: token = byte value
  data.vocab = 256;
  return data;
}

void splitTrainVal(const std::vector<int32_t>& all, double valFraction, std::vector<int32_t>* train,
                   std::vector<int32_t>* val) {
  const double f = valFraction > 0.0 ? std::min(valFraction, 1.0) : 0.0;  // NaN → 0
  const size_t numVal = static_cast<size_t>(static_cast<double>(all.size()) * f);
  const size_t numTrain = all.size() - numVal;
  train->assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(numTrain));
  val->assign(all.begin() + static_cast<std::ptrdiff_t>(numTrain), all.end());
}

DistributedSampler::DistributedSampler(size_t numTokens, int T, int rank, int ranks, uint64_t seed)
    : numTokens_(numTokens), T_(T), rank_(rank), ranks_(ranks), seed_(seed) {}

Status DistributedSampler::check(size_t numTokens, int T, int rank, int ranks) {
  if (T < 1) return invalidArgument("sampler: context T must be >= 1");
  if (ranks < 1 || rank < 0 || rank >= ranks) {
    return invalidArgument("sampler: rank " + std::to_string(rank) + " not in [0, " +
                           std::to_string(ranks) + ")");
  }
  const size_t windows = numTokens > static_cast<size_t>(T) ? (numTokens - 1) / T : 0;
  if (windows < static_cast<size_t>(ranks)) {
    return invalidArgument("sampler: " + std::to_string(numTokens) + " tokens make " +
                           std::to_string(windows) + " windows of " + std::to_string(T + 1) +
                           " tokens, fewer than the " + std::to_string(ranks) +
                           " ranks: more data or a shorter context is needed");
  }
  return Status::ok();
}

size_t DistributedSampler::totalWindows() const {
  if (T_ < 1 || numTokens_ <= static_cast<size_t>(T_)) return 0;
  return (numTokens_ - 1) / static_cast<size_t>(T_);
}

size_t DistributedSampler::shareBegin() const {
  if (ranks_ < 1) return 0;
  const size_t w = totalWindows(), r = static_cast<size_t>(rank_), n = static_cast<size_t>(ranks_);
  return r * (w / n) + std::min(r, w % n);
}

size_t DistributedSampler::windowsPerEpoch() const {
  if (ranks_ < 1 || rank_ < 0 || rank_ >= ranks_) return 0;
  const size_t w = totalWindows(), r = static_cast<size_t>(rank_), n = static_cast<size_t>(ranks_);
  return w / n + (r < w % n ? 1 : 0);
}

uint64_t DistributedSampler::epoch() const {
  const size_t share = windowsPerEpoch();
  return share == 0 ? 0 : position_ / share;
}

void DistributedSampler::shuffle() {
  // One global permutation per epoch (the same on every rank); each rank keeps its slice.
  const size_t w = totalWindows();
  std::vector<size_t> perm(w);
  for (size_t i = 0; i < w; ++i) perm[i] = i;
  Rng rng(mixSeed(seed_, epoch()));
  for (size_t i = w; i > 1; --i) std::swap(perm[i - 1], perm[rng.below(i)]);
  const size_t begin = shareBegin(), share = windowsPerEpoch();
  order_.resize(share);
  for (size_t i = 0; i < share; ++i) order_[i] = perm[begin + i] * static_cast<size_t>(T_);
  shuffledEpoch_ = epoch();
}

size_t DistributedSampler::next() {
  const size_t share = windowsPerEpoch();
  if (share == 0) return 0;  // check() rejects this configuration
  if (shuffledEpoch_ != epoch()) shuffle();
  const size_t start = order_[position_ % share];
  ++position_;
  return start;
}

uint64_t DistributedSampler::position() const { return position_; }

void DistributedSampler::seek(uint64_t position) { position_ = position; }

}  // namespace braid::train

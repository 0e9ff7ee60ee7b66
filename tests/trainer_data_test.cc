// Training data: text through the byte tokenizer, llm.c token shards, every malformed file as a
// clear error naming the file, the train/val split, and the distributed sampler (a permutation
// per epoch, disjoint near-equal rank shares, determinism from the seed, position/seek).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "trainer/data.h"

namespace braid::train {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/braid-data-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<uint8_t> shard(int32_t magic, int32_t version, int32_t count,
                           const std::vector<uint16_t>& tokens) {
  std::vector<uint8_t> bytes(1024 + 2 * tokens.size(), 0);
  const int32_t header[3] = {magic, version, count};
  std::memcpy(bytes.data(), header, sizeof(header));  // little-endian host, as llm.c
  std::memcpy(bytes.data() + 1024, tokens.data(), 2 * tokens.size());
  return bytes;
}

// The load fails, and the message names the file and contains `what`.
void expectError(const std::string& path, const std::string& what) {
  Result<TokenData> r = loadTokens(path);
  ASSERT_FALSE(r.isOk()) << path;
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().toString();
  EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().toString();
}

TEST(TrainerData, TextIsByteTokens) {
  TempDir dir;
  const std::string text = "h\xC3\xA9llo\n";  // "héllo": é is two bytes in UTF-8
  const std::string p = dir.write("a.txt", std::vector<uint8_t>(text.begin(), text.end()));
  Result<TokenData> r = loadTokens(p);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->vocab, 256);
  EXPECT_EQ(r->tokens, (std::vector<int32_t>{'h', 0xC3, 0xA9, 'l', 'l', 'o', '\n'}));
}

TEST(TrainerData, LlmcShard) {
  TempDir dir;
  const std::vector<uint16_t> tokens = {50256, 0, 17, 65535 - 15000, 3};
  Result<TokenData> r = loadTokens(dir.write("s.bin", shard(20240520, 1, 5, tokens)));
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->tokens, (std::vector<int32_t>{50256, 0, 17, 50535, 3}));
  EXPECT_EQ(r->vocab, 50560);  // max token 50535 + 1, rounded up to a multiple of 64
  r = loadTokens(dir.write("t.bin", shard(20240520, 1, 2, {1, 2})));
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->vocab, 64);
}

TEST(TrainerData, MalformedFilesNameTheFile) {
  TempDir dir;
  auto good = shard(20240520, 1, 4, {1, 2, 3, 4});
  auto truncated = good;
  truncated.pop_back();
  expectError(dir.write("truncated.bin", truncated), "truncated");
  auto trailing = good;
  trailing.push_back(0);
  trailing.push_back(0);
  expectError(dir.write("trailing.bin", trailing), "header declares 4 tokens");
  expectError(dir.write("header.bin", std::vector<uint8_t>(good.begin(), good.begin() + 100)),
              "truncated header");
  expectError(dir.write("v2.bin", shard(20240520, 2, 4, {1, 2, 3, 4})), "version 2");
  expectError(dir.write("zero.bin", shard(20240520, 1, 0, {})), "declares 0 tokens");
  expectError(dir.write("neg.bin", shard(20240520, 1, -3, {})), "declares -3 tokens");
  expectError(dir.write("empty.txt", {}), "empty");
  expectError(dir.write("binary.dat", {'a', 'b', 0, 'c'}), "NUL byte at offset 2");
  expectError(dir.path() + "/missing.txt", "No such file");
  EXPECT_EQ(loadTokens(dir.path() + "/missing.txt").status().code(), StatusCode::kSystemError);
  expectError(dir.path(), "not a regular file");
}

TEST(TrainerData, SplitKeepsTheTailForValidation) {
  std::vector<int32_t> all(1000);
  for (int i = 0; i < 1000; ++i) all[i] = i % 256;
  std::vector<int32_t> train, val;
  splitTrainVal(all, 0.1, &train, &val);
  ASSERT_EQ(train.size(), 900u);
  ASSERT_EQ(val.size(), 100u);
  EXPECT_TRUE(std::equal(train.begin(), train.end(), all.begin()));
  EXPECT_TRUE(std::equal(val.begin(), val.end(), all.begin() + 900));
  splitTrainVal(all, 0.0, &train, &val);
  EXPECT_EQ(train.size(), 1000u);
  EXPECT_TRUE(val.empty());
}

std::vector<size_t> draw(DistributedSampler& s, size_t n) {
  std::vector<size_t> out(n);
  for (auto& x : out) x = s.next();
  return out;
}

TEST(TrainerData, SamplerEpochIsAPermutationOfAllWindows) {
  const size_t tokens = 1000;
  const int T = 64;  // (1000 - 1) / 64 = 15 windows, the last starting at 896 (896 + 65 <= 1000)
  DistributedSampler s(tokens, T, 0, 1, 42);
  ASSERT_EQ(s.totalWindows(), 15u);
  ASSERT_EQ(s.windowsPerEpoch(), 15u);
  std::vector<size_t> e0 = draw(s, 15);
  EXPECT_EQ(s.epoch(), 1u);
  std::vector<size_t> e1 = draw(s, 15);
  EXPECT_NE(e0, e1) << "each epoch is reshuffled";
  for (auto* e : {&e0, &e1}) {
    std::vector<size_t> sorted = *e;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], i * T);
  }
  DistributedSampler same(tokens, T, 0, 1, 42), other(tokens, T, 0, 1, 43);
  EXPECT_EQ(draw(same, 15), e0);
  EXPECT_NE(draw(other, 15), e0);
}

TEST(TrainerData, SamplerRanksShareEachEpochDisjointly) {
  const size_t tokens = 10 * 8 + 1;  // 10 windows of T=8 over 3 ranks: shares 4, 3, 3
  const int T = 8, ranks = 3;
  for (uint64_t epoch = 0; epoch < 3; ++epoch) {
    std::multiset<size_t> seen;
    size_t total = 0;
    for (int r = 0; r < ranks; ++r) {
      DistributedSampler s(tokens, T, r, ranks, 7);
      EXPECT_EQ(s.windowsPerEpoch(), r == 0 ? 4u : 3u);
      total += s.windowsPerEpoch();
      s.seek(epoch * s.windowsPerEpoch());
      EXPECT_EQ(s.epoch(), epoch);
      for (size_t x : draw(s, s.windowsPerEpoch())) seen.insert(x);
    }
    EXPECT_EQ(total, 10u);
    ASSERT_EQ(seen.size(), 10u);
    size_t i = 0;
    for (size_t x : seen) EXPECT_EQ(x, T * i++) << "epoch " << epoch;
  }
}

TEST(TrainerData, SamplerSeekResumesTheSameSequence) {
  DistributedSampler a(5000, 16, 1, 2, 9);
  std::vector<size_t> first = draw(a, 200);  // several epochs (156 windows per rank)
  DistributedSampler b(5000, 16, 1, 2, 9);
  b.seek(137);
  EXPECT_EQ(b.position(), 137u);
  EXPECT_EQ(draw(b, 63), std::vector<size_t>(first.begin() + 137, first.end()));
  EXPECT_EQ(b.position(), 200u);
  b.seek(3);  // backwards, into an earlier epoch
  EXPECT_EQ(draw(b, 5), std::vector<size_t>(first.begin() + 3, first.begin() + 8));
}

TEST(TrainerData, SamplerChecksItsArguments) {
  EXPECT_TRUE(DistributedSampler::check(1000, 64, 0, 1).isOk());
  EXPECT_FALSE(DistributedSampler::check(1000, 0, 0, 1).isOk());
  EXPECT_FALSE(DistributedSampler::check(1000, 64, 2, 2).isOk());
  EXPECT_FALSE(DistributedSampler::check(1000, 64, -1, 2).isOk());
  Status s = DistributedSampler::check(100, 64, 0, 2);  // one window for two ranks
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("1 windows"), std::string::npos) << s.message();
  EXPECT_FALSE(DistributedSampler::check(64, 64, 0, 1).isOk());  // no window of T+1 tokens
}

}  // namespace
}  // namespace braid::train

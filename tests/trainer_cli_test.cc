// braid-train as a user runs it: --help, usage errors (one line, exit 2), 2 ranks through
// braid-run against 1 rank without a launcher (same losses; also with --zero 1), and a run
// whose rank is SIGKILLed and resumed from its checkpoint (the losses of an uninterrupted run).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "support/shell.h"

namespace braid {
namespace {

using testing::Ran;
using testing::runShell;

const std::string kBin = BRAID_BIN_DIR;
const std::string kRun = kBin + "/tools/braid-run";
const std::string kTrain = kBin + "/trainer/braid-train";
// A small model on a small English text (this repository's README).
const std::string kSmall = kTrain + " --data " + std::string(BRAID_SOURCE_DIR) +
                           "/README.md --layers 1 --heads 2 --width 16 --context 16 --batch 4 "
                           "--warmup 2 --lr 1e-2 --threads 1 --bucket-mb 0.01 "
                           "--first-bucket-mb 0.002 -q";

std::string tempDir() {
  char dir[] = "/tmp/braid-train-test-XXXXXX";
  EXPECT_NE(mkdtemp(dir), nullptr);
  return dir;
}

// step -> loss from a JSON-lines log (a later line for the same step wins).
std::map<int, double> losses(const std::string& path) {
  std::map<int, double> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    int step = 0;
    double loss = 0;
    if (std::sscanf(line.c_str(), "{\"step\":%d,\"loss\":%lf", &step, &loss) == 2) out[step] = loss;
  }
  return out;
}

void expectClose(const std::map<int, double>& a, const std::map<int, double>& b, double rel) {
  ASSERT_FALSE(a.empty());
  ASSERT_EQ(a.size(), b.size());
  for (auto [step, loss] : a) {
    ASSERT_TRUE(b.count(step)) << step;
    EXPECT_LE(std::abs(loss - b.at(step)), rel * std::abs(loss))
        << "step " << step << ": " << loss << " vs " << b.at(step);
  }
}

TEST(BraidTrain, HelpDocumentsEveryOption) {
  Ran r = runShell(kTrain + " --help");
  EXPECT_EQ(r.exitCode, 0) << r.output;
  for (const char* option : {"--data",
                             "--val-fraction",
                             "--layers",
                             "--heads",
                             "--width",
                             "--context",
                             "--batch",
                             "--accum",
                             "--steps",
                             "--lr",
                             "--min-lr",
                             "--warmup",
                             "--weight-decay",
                             "--clip",
                             "--seed",
                             "--zero",
                             "--sync-every",
                             "--bucket-mb",
                             "--first-bucket-mb",
                             "--threads",
                             "--eval-every",
                             "--eval-batches",
                             "--sample-every",
                             "--sample-tokens",
                             "--prompt",
                             "--temperature",
                             "--checkpoint-dir",
                             "--checkpoint-every",
                             "--resume",
                             "--log",
                             "--quiet",
                             "--kill-at-step",
                             "--kill-rank"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option;
}

TEST(BraidTrain, UsageErrorsAreOneLineAndExitTwo) {
  std::string readme = std::string(BRAID_SOURCE_DIR) + "/README.md";
  for (const std::string& args :
       {std::string("--data " + readme + " --bogus"), std::string("--data /nonexistent/corpus.txt"),
        std::string("--data " + readme + " --heads 3 --width 16"),
        std::string("--data " + readme + " --zero 2"), std::string("--steps 10"),
        std::string("--data " + readme + " --resume"),
        std::string("--data " + readme + " --deterministic 3 --batch 2")}) {
    Ran r = runShell(kTrain + " " + args);
    EXPECT_EQ(r.exitCode, 2) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("braid-train: ", 0), 0u) << r.output;
  }
  Ran missing = runShell(kTrain + " --data /nonexistent/corpus.txt");
  EXPECT_NE(missing.output.find("/nonexistent/corpus.txt"), std::string::npos) << missing.output;
}

TEST(BraidTrain, TwoRanksMatchOneRankWithAndWithoutZero) {
  std::string dir = tempDir();
  Ran one = runShell(kSmall + " --steps 20 --log " + dir + "/one.jsonl");
  ASSERT_EQ(one.exitCode, 0) << one.output;
  EXPECT_NE(one.output.find("summary:"), std::string::npos) << one.output;
  Ran two = runShell("BRAID_TIMEOUT=60 " + kRun + " -n 2 " + kSmall + " --steps 20 --log " + dir +
                     "/two.jsonl");
  ASSERT_EQ(two.exitCode, 0) << two.output;
  Ran zero = runShell("BRAID_TIMEOUT=60 " + kRun + " -n 2 " + kSmall +
                      " --steps 20 --zero 1 --log " + dir + "/zero.jsonl");
  ASSERT_EQ(zero.exitCode, 0) << zero.output;
  auto l1 = losses(dir + "/one.jsonl");
  EXPECT_EQ(l1.size(), 20u);
  expectClose(l1, losses(dir + "/two.jsonl"), 1e-5);
  expectClose(l1, losses(dir + "/zero.jsonl"), 1e-5);
  runShell("rm -rf " + dir);
}

TEST(BraidTrain, DeterministicRunsAreBitwiseEqual) {
  std::string dir = tempDir();
  std::string args = kSmall + " --steps 10 --deterministic 2 --log " + dir;
  Ran one = runShell(args + "/one.jsonl");
  ASSERT_EQ(one.exitCode, 0) << one.output;
  Ran two = runShell("BRAID_TIMEOUT=60 " + kRun + " -n 2 " + args + "/two.jsonl");
  ASSERT_EQ(two.exitCode, 0) << two.output;
  expectClose(losses(dir + "/one.jsonl"), losses(dir + "/two.jsonl"), 0);
  runShell("rm -rf " + dir);
}

TEST(BraidTrain, ResumeAfterKillNineEqualsAnUninterruptedRun) {
  std::string dir = tempDir();
  std::string run = "BRAID_TIMEOUT=60 " + kRun + " -n 2 " + kSmall + " --steps 40 ";
  Ran full = runShell(run + "--log " + dir + "/full.jsonl");
  ASSERT_EQ(full.exitCode, 0) << full.output;
  std::string ckpt = "--checkpoint-dir " + dir + "/ckpt --checkpoint-every 10 ";
  Ran killed = runShell(run + ckpt + "--kill-at-step 35 --log " + dir + "/killed.jsonl");
  EXPECT_NE(killed.exitCode, 0) << killed.output;
  EXPECT_NE(killed.output.find("signal 9"), std::string::npos) << killed.output;
  Ran resumed = runShell(run + ckpt + "--resume --log " + dir + "/resumed.jsonl");
  ASSERT_EQ(resumed.exitCode, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from"), std::string::npos) << resumed.output;
  auto all = losses(dir + "/full.jsonl"), after = losses(dir + "/resumed.jsonl");
  ASSERT_EQ(after.size(), 10u);  // steps 30..39 from the checkpoint after step 30
  ASSERT_EQ(after.begin()->first, 30);
  for (auto [step, loss] : after) EXPECT_EQ(loss, all.at(step)) << "step " << step;
  runShell("rm -rf " + dir);
}

}  // namespace
}  // namespace braid

// End-to-end tests of braid-bench: every collective at 1, 2, 3, 4 and 8 ranks over every dtype
// and op comes out exact; --algo all, --json (and scripts/bench-report on it), --min-bw,
// --iter-bytes and bad options behave as documented; --device cuda and the NCCL backend refuse
// clearly where they cannot run; the side-by-side run with MPI works where mpirun exists.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "support/shell.h"

namespace {

namespace fs = std::filesystem;

const std::string kBin = BRAID_BIN_DIR;
const std::string kSource = BRAID_SOURCE_DIR;
const std::string kRun = kBin + "/tools/braid-run";
const std::string kBench = kBin + "/bench/braid-bench";
const std::string kReport = kSource + "/scripts/bench-report";
const std::string kPython = "/usr/bin/python3";
const std::string kMpiEnv = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ";

const std::vector<std::string> kDtypes = {"int8",   "uint8", "int32", "uint32", "int64",
                                          "uint64", "fp16",  "bf16",  "fp32",   "fp64"};
const std::vector<std::string> kOps = {"sum", "prod", "min", "max", "avg"};

using braid::testing::Ran;
using braid::testing::runShell;

// braid-bench on n ranks under braid-run, rank 0's output only, with a hang bounded.
Ran runBench(int n, const std::string& args) {
  return runShell("BRAID_TIMEOUT=60 " + kRun + " -n " + std::to_string(n) +
                  " --timeout 120 --rank0-only --no-prefix -- " + kBench + " --no-progress " +
                  args);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Table rows: lines that start with the size column (spaces, then digits).
std::vector<std::vector<std::string>> tableRows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  for (const std::string& line : lines(text)) {
    size_t first = line.find_first_not_of(' ');
    if (first == std::string::npos || !isdigit(static_cast<unsigned char>(line[first]))) continue;
    std::istringstream in(line);
    std::vector<std::string> fields;
    for (std::string f; in >> f;) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

std::string lineWith(const std::string& text, const std::string& what) {
  for (const std::string& line : lines(text)) {
    if (has(line, what)) return line;
  }
  return "";
}

bool pythonHas(const std::string& module) {
  return access(kPython.c_str(), X_OK) == 0 &&
         runShell(kPython + " -c 'import " + module + "'").exitCode == 0;
}

// A fresh directory for one test's files, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "braid-bench-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void requireBench() {
  ASSERT_EQ(access(kBench.c_str(), X_OK), 0) << kBench << " is not built (ninja braid-bench)";
  ASSERT_EQ(access(kRun.c_str(), X_OK), 0) << kRun << " is not built (ninja braid-run)";
}

// ---------------------------------------------------------------------------------------------
// Every collective × rank count, all dtypes and ops: exact, exit 0.

bool isRooted(const std::string& c) { return c == "broadcast" || c == "reduce"; }
bool isReducing(const std::string& c) {
  return c == "allreduce" || c == "reducescatter" || c == "reduce";
}

// A non-zero root at 3 and 8 ranks (the last rank, and one in the middle).
int rootFor(int n) { return n == 3 ? 2 : n == 8 ? 5 : 0; }

class EveryCollective : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(EveryCollective, AllDtypesAndOpsAreExact) {
  requireBench();
  auto [coll, n] = GetParam();
  const int root = rootFor(n);
  std::string args = coll + " -d all -o all -b 8 -e 4K -f 8 -n 2 -w 1";
  if (isRooted(coll)) args += " --root " + std::to_string(root);
  Ran r = runBench(n, args);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_TRUE(has(r.output, "# wrong values: 0\n")) << r.output;
  EXPECT_TRUE(has(r.output, "# braid-bench: " + std::to_string(n) + " ranks")) << r.output;
  EXPECT_TRUE(has(r.output, "# " + coll + "\n")) << r.output;

  // One row per size (8, 64, 512, 4K) × dtype × op (ops only for reductions).
  auto rows = tableRows(r.output);
  const size_t ops = isReducing(coll) ? kOps.size() : 1;
  ASSERT_EQ(rows.size(), 4 * kDtypes.size() * ops) << r.output;
  std::map<std::string, int> seen;
  for (const auto& f : rows) {
    // size count type redop root | 5 columns | 5 columns (out-of-place, in-place).
    ASSERT_GE(f.size(), 5u) << r.output;
    seen[f[2] + "/" + f[3]]++;
    EXPECT_EQ(f[4], std::to_string(isRooted(coll) ? root : -1)) << "root column: " << r.output;
  }
  for (const auto& t : kDtypes) {
    if (isReducing(coll)) {
      for (const auto& op : kOps) EXPECT_EQ(seen[t + "/" + op], 4) << t << " " << op;
    } else {
      EXPECT_EQ(seen[t + "/none"], 4) << t;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, EveryCollective,
                         ::testing::Combine(::testing::Values("allreduce", "reducescatter",
                                                              "allgather", "broadcast", "reduce",
                                                              "alltoall", "sendrecv"),
                                            ::testing::Values(1, 2, 3, 4, 8)),
                         [](const auto& p) {
                           return std::get<0>(p.param) + "_" +
                                  std::to_string(std::get<1>(p.param)) + "ranks";
                         });

// Every collective in one launch, over TCP instead of shared memory.
TEST(BraidBench, AllCollectivesOverTcp) {
  requireBench();
  Ran r = runBench(3, "all -d int32,bf16 -o sum,max -b 8 -e 4K -f 8 -n 2 -w 1 --transport tcp");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_TRUE(has(r.output, "transport tcp")) << r.output;
  EXPECT_TRUE(has(r.output, "# wrong values: 0\n")) << r.output;
  for (const char* c :
       {"allreduce", "reducescatter", "allgather", "broadcast", "reduce", "alltoall", "sendrecv"}) {
    EXPECT_TRUE(has(r.output, std::string("# ") + c + "\n")) << c << "\n" << r.output;
  }
}

// ---------------------------------------------------------------------------------------------
// --algo all: one column group per algorithm plus auto, each out-of-place and in-place.

class AlgoAll : public ::testing::TestWithParam<std::tuple<std::string, std::vector<std::string>>> {
};

TEST_P(AlgoAll, OneColumnGroupPerAlgorithmPlusAuto) {
  requireBench();
  auto [coll, algos] = GetParam();
  Ran r = runBench(3, coll + " --algo all -b 8 -e 4K -f 8 -n 2 -w 1");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_TRUE(has(r.output, "# wrong values: 0\n")) << r.output;
  std::string header = lineWith(r.output, "# braid-bench:");
  std::string groups = lineWith(r.output, "out-of-place");
  ASSERT_FALSE(groups.empty()) << r.output;
  for (const std::string& a : algos) {
    std::string label = "braid/" + a;
    EXPECT_TRUE(has(header, label)) << label << " missing from: " << header;
    EXPECT_TRUE(has(groups, label + " out-of-place")) << groups;
    EXPECT_TRUE(has(groups, label + " in-place")) << groups;
  }
  // Every series in the header has its two column groups.
  size_t at = header.find("series: ");
  ASSERT_NE(at, std::string::npos) << header;
  std::istringstream series(header.substr(at + 8));
  int count = 0;
  for (std::string label; std::getline(series, label, ',');) {
    label.erase(0, label.find_first_not_of(' '));
    EXPECT_TRUE(has(groups, "| " + label + " out-of-place")) << label << ": " << groups;
    ++count;
  }
  EXPECT_GE(count, static_cast<int>(algos.size())) << header;
  // Each row has the 5 fixed fields plus a (|, 5 values) group per series and placement, then
  // the tuner's pick, e.g. "| auto(ring) 12.3" (its predicted time in us).
  for (const auto& f : tableRows(r.output)) {
    ASSERT_EQ(f.size(), 5u + 2 * count * 6 + 3) << r.output;
    EXPECT_EQ(f[f.size() - 2].rfind("auto(", 0), 0u) << r.output;
    EXPECT_GT(std::stod(f.back()), 0) << r.output;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Collectives, AlgoAll,
    ::testing::Values(std::make_tuple(std::string("allreduce"),
                                      std::vector<std::string>{"auto", "ring", "oneshot", "tree",
                                                               "halving-doubling"}),
                      std::make_tuple(std::string("reducescatter"),
                                      std::vector<std::string>{"auto", "ring", "halving-doubling"}),
                      std::make_tuple(std::string("broadcast"),
                                      std::vector<std::string>{"auto", "chain", "binomial",
                                                               "tree"})),
    [](const auto& p) { return std::get<0>(p.param); });

// ---------------------------------------------------------------------------------------------
// --json FILE, then scripts/bench-report on it.

const char* kJsonCheck = R"(
import json, sys
d = json.load(open(sys.argv[1]))
assert d["tool"] == "braid-bench", d["tool"]
assert d["ranks"] == 2, d["ranks"]
assert d["device"] == "cpu", d["device"]
assert d["collective"] == "allreduce", d["collective"]
assert d["version"] and d["git_commit"], (d["version"], d["git_commit"])
assert "braid-bench" in d["command"], d["command"]
m = d["machine"]
assert m["cores"] > 0 and m["hostname"] and m["cpu_model"], m
assert isinstance(d["features"]["mpi"], bool), d["features"]
assert isinstance(d["environment"], dict), d["environment"]
o = d["options"]
assert o["minbytes"] == 8 and o["maxbytes"] == 4096 and o["iters"] == 2, o
assert o["warmups"] == 1 and o["check_iters"] == 1 and o["backends"] == ["braid"], o
assert o["timing"] == "per-call", o  # host buffers: every call timed by the clock
rows = d["rows"]
assert len(rows) == 4 * 2 * 2 * 2, len(rows)  # sizes x dtypes x ops x placements
keys = {"backend", "algo", "chosen_algo", "transport", "collective", "bytes", "count", "dtype",
        "op", "root", "inplace", "iters", "time_us", "time_avg_us", "algbw_gbs", "busbw_gbs",
        "wrong", "label", "predicted_us"}
for r in rows:
    assert keys <= set(r), sorted(keys - set(r))
    assert r["backend"] == "braid" and r["collective"] == "allreduce", r
    assert r["dtype"] in ("fp32", "int64") and r["op"] in ("sum", "max"), r
    assert r["wrong"] == 0 and r["time_us"] > 0 and r["busbw_gbs"] >= 0, r
    assert r["iters"] == 2, r
    assert r["chosen_algo"], r
    assert r["label"] == 'auto(' + r["chosen_algo"] + ')', r
    assert r["predicted_us"] > 0, r
assert {r["bytes"] for r in rows} == {8, 64, 512, 4096}, {r["bytes"] for r in rows}
assert {r["inplace"] for r in rows} == {True, False}
print("json ok")
)";

TEST(BraidBench, JsonFileAndBenchReport) {
  requireBench();
  if (access(kPython.c_str(), X_OK) != 0) GTEST_SKIP() << kPython << " is not installed";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string json = dir.path() + "/run.json";
  Ran r =
      runBench(2, "allreduce -d fp32,int64 -o sum,max -b 8 -e 4K -f 8 -n 2 -w 1 --json " + json);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const std::string script = dir.path() + "/check.py";
  std::ofstream(script) << kJsonCheck;
  Ran check = runShell(kPython + " " + script + " " + json);
  EXPECT_EQ(check.exitCode, 0) << check.output;
  EXPECT_TRUE(has(check.output, "json ok")) << check.output;

  if (!pythonHas("matplotlib")) {
    GTEST_SKIP() << "JSON checked; bench-report not run: " << kPython << " lacks matplotlib";
  }
  const std::string out = dir.path() + "/report";
  Ran rep = runShell(kReport + " " + json + " -o " + out);
  ASSERT_EQ(rep.exitCode, 0) << rep.output;
  ASSERT_TRUE(fs::exists(out + "/report.md")) << rep.output;
  EXPECT_GT(fs::file_size(out + "/report.md"), 0u);
  std::ifstream md(out + "/report.md");
  std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(has(text, "allreduce")) << text;
  int pngs = 0;
  for (const auto& e : fs::directory_iterator(out)) {
    if (e.path().extension() != ".png") continue;
    std::ifstream png(e.path(), std::ios::binary);
    char magic[8] = {};
    png.read(magic, sizeof(magic));
    EXPECT_EQ(std::string(magic + 1, 3), "PNG") << e.path();
    ++pngs;
  }
  EXPECT_GE(pngs, 1) << rep.output;
}

// ---------------------------------------------------------------------------------------------
// Exit statuses: 1 below --min-bw, 2 for bad usage (with one line saying why).

TEST(BraidBench, MinBwNotMetExitsOne) {
  requireBench();
  // One rank for the message: with several, braid-run may SIGTERM rank 0 (as soon as another
  // rank exits 1) before rank 0 has printed its last line.
  Ran r = runBench(1, "allreduce -b 8 -e 64 -f 8 -n 2 -w 1 --min-bw 1e9");
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_TRUE(has(r.output, "is below --min-bw")) << r.output;
  EXPECT_TRUE(has(r.output, "# wrong values: 0\n")) << r.output;
  // Every rank fails the same way.
  Ran three = runBench(3, "allreduce -b 8 -e 64 -f 8 -n 2 -w 1 --min-bw 1e9");
  EXPECT_EQ(three.exitCode, 1) << three.output;
}

class BadOption : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(BadOption, ExitsTwoWithOneLine) {
  requireBench();
  auto [args, expected] = GetParam();
  // Options are checked before any launcher environment is needed: run the binary alone.
  Ran r = runShell(kBench + " " + args);
  EXPECT_EQ(r.exitCode, 2) << r.output;
  auto out = lines(r.output);
  ASSERT_EQ(out.size(), 1u) << r.output;
  EXPECT_EQ(out[0].rfind("braid-bench: ", 0), 0u) << out[0];
  EXPECT_TRUE(has(out[0], expected)) << out[0];
}

INSTANTIATE_TEST_SUITE_P(
    Usage, BadOption,
    ::testing::Values(std::make_tuple("allreduce -b 0", "0 < -b <= -e"),
                      std::make_tuple("allreduce -b 1K -e 8", "0 < -b <= -e"),
                      std::make_tuple("allreduce -e 1X", "bad size"),
                      std::make_tuple("allreduce -d nosuchtype", "unknown dtype 'nosuchtype'"),
                      std::make_tuple("allreduce -o nosuchop", "unknown op 'nosuchop'"),
                      std::make_tuple("nosuchcollective", "unknown collective 'nosuchcollective'"),
                      std::make_tuple("allreduce --backend nosuch", "unknown backend 'nosuch'"),
                      std::make_tuple("allreduce --backend braid,nccl",
                                      "--backend nccl runs on GPU buffers: add --device cuda"),
                      std::make_tuple("allreduce --backend braid,mpi --device cuda",
                                      "--backend mpi runs on host buffers"),
                      std::make_tuple("allreduce --device tpu", "--device must be cpu or cuda"),
                      std::make_tuple("allreduce --iter-bytes 1X", "bad size"),
                      std::make_tuple("allreduce --transport ib", "--transport must be shm or tcp"),
                      std::make_tuple("allreduce --no-such-flag", "no-such-flag")));

// Under a launcher too: every rank refuses, braid-run passes the status on.
TEST(BraidBench, BadOptionUnderBraidRunExitsTwo) {
  requireBench();
  Ran r = runBench(2, "allreduce -d nosuchtype");
  EXPECT_EQ(r.exitCode, 2) << r.output;
  EXPECT_TRUE(has(r.output, "braid-bench: unknown dtype 'nosuchtype'")) << r.output;
}

// --json into a directory that does not exist: refused before the sweep on every rank (it once
// failed after the sweep on rank 0 only, and on GPUs the other rank waited out BRAID_TIMEOUT).
TEST(BraidBench, UnwritableJsonPathFailsBeforeTheSweep) {
  requireBench();
  Ran r = runBench(3, "allreduce -b 8 -e 64 -f 8 -n 2 -w 1 --json /nonexistent-dir/run.json");
  EXPECT_EQ(r.exitCode, 2) << r.output;
  EXPECT_TRUE(has(r.output, "--json /nonexistent-dir/run.json: the directory /nonexistent-dir/"))
      << r.output;
  EXPECT_FALSE(has(r.output, "# wrong values")) << "the sweep ran: " << r.output;
}
// --iter-bytes: rows whose iterations would move more than the budget run fewer (at least 3).
TEST(BraidBench, IterBytesCapsIterationsAtLargeSizes) {
  requireBench();
  if (access(kPython.c_str(), X_OK) != 0) GTEST_SKIP() << kPython << " is not installed";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string json = dir.path() + "/run.json";
  Ran r = runBench(2, "allreduce -b 8 -e 4K -f 8 -n 10 -w 2 --iter-bytes 1K --json " + json);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_TRUE(has(r.output, "fewer where iterations x size > 1024 B")) << r.output;
  // 8 and 64 B: 1K / size >= 10, so -n; 512 B: 2, raised to 3; 4 KiB: 0, raised to 3.
  Ran check =
      runShell(kPython + " -c 'import json,sys; d=json.load(open(sys.argv[1])); " +
               "print(sorted({(r[\"bytes\"], r[\"iters\"]) for r in d[\"rows\"]}))' " + json);
  ASSERT_EQ(check.exitCode, 0) << check.output;
  EXPECT_TRUE(has(check.output, "[(8, 10), (64, 10), (512, 3), (4096, 3)]")) << check.output;
}

// ---------------------------------------------------------------------------------------------
// GPU mode and NCCL where they cannot run: one clear line and a non-zero exit, never a hang.

bool gpuPresent() { return runShell("nvidia-smi -L 2>/dev/null | grep -q GPU").exitCode == 0; }

TEST(BraidBench, DeviceCudaWithoutGpuFailsInOneLine) {
  requireBench();
  if (gpuPresent()) GTEST_SKIP() << "a GPU is present: scripts/gpu-check runs GPU mode";
  // Built without CUDA, or built with it on a machine without a GPU: either way one line.
  Ran alone = runShell(kBench + " allreduce --device cuda");
  EXPECT_EQ(alone.exitCode, 2) << alone.output;
  auto out = lines(alone.output);
  ASSERT_EQ(out.size(), 1u) << alone.output;
  EXPECT_EQ(out[0].rfind("braid-bench: --device cuda: ", 0), 0u) << out[0];
  EXPECT_TRUE(has(out[0], "without CUDA") || has(out[0], "GPU")) << out[0];
  // Under a launcher every rank refuses the same way.
  Ran launched = runBench(2, "allreduce --device cuda -b 8 -e 64");
  EXPECT_EQ(launched.exitCode, 2) << launched.output;
  EXPECT_TRUE(has(launched.output, "braid-bench: --device cuda: ")) << launched.output;
}

TEST(BraidBench, PerCallTimingWithoutDeviceCudaExitsTwo) {
  requireBench();
  // Host calls are always timed one by one; the flag is about GPU events, so it is refused.
  Ran r = runShell(kBench + " allreduce --per-call-timing");
  EXPECT_EQ(r.exitCode, 2) << r.output;
  auto out = lines(r.output);
  ASSERT_EQ(out.size(), 1u) << r.output;
  EXPECT_EQ(out[0].rfind("braid-bench: --per-call-timing times GPU calls", 0), 0u) << out[0];
  EXPECT_TRUE(has(out[0], "add --device cuda")) << out[0];
}

TEST(BraidBench, NcclRefusesNvlinkMulticast) {
  requireBench();
  Ran probe = runShell(kBench + " --backend nosuch");
  if (!has(probe.output, "nccl)")) GTEST_SKIP() << "built without NCCL: " << probe.output;
  // Checked before any GPU or launcher is needed.
  Ran r =
      runShell("NCCL_NVLS_ENABLE=1 " + kBench + " allreduce --device cuda --backend braid,nccl");
  EXPECT_EQ(r.exitCode, 2) << r.output;
  auto out = lines(r.output);
  ASSERT_EQ(out.size(), 1u) << r.output;
  EXPECT_TRUE(has(out[0], "braid-bench: NCCL_NVLS_ENABLE=1: ")) << out[0];
  EXPECT_TRUE(has(out[0], "(NCCL_NVLS_ENABLE=0)")) << out[0];
}

// ---------------------------------------------------------------------------------------------
// Side by side with MPI (Open MPI's mpirun), where this build and machine have it.

TEST(BraidBench, SideBySideWithMpi) {
  requireBench();
  if (runShell("which mpirun").exitCode != 0) GTEST_SKIP() << "mpirun is not installed";
  // The MPI-less build names only braid among its backends.
  Ran probe = runShell(kBench + " --backend nosuch");
  if (!has(probe.output, "braid, mpi")) {
    GTEST_SKIP() << "braid-bench was built without MPI: " << probe.output;
  }
  Ran r = runShell(kMpiEnv + "BRAID_TIMEOUT=60 timeout 120 mpirun --oversubscribe -np 2 " + kBench +
                   " allreduce --backend braid,mpi -b 8 -e 64K -f 8 -n 2 -w 1 --no-progress");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_TRUE(has(r.output, "# wrong values: 0\n")) << r.output;
  EXPECT_TRUE(has(r.output, "series: braid, mpi")) << r.output;
  std::string groups = lineWith(r.output, "out-of-place");
  EXPECT_TRUE(has(groups, "| braid out-of-place")) << groups;
  EXPECT_TRUE(has(groups, "| mpi out-of-place")) << groups;
  EXPECT_TRUE(has(groups, "| busbw ratio")) << groups;
  // 8 B .. 64 KiB by 8: 5 sizes (8 B .. 32 KiB); each row carries the two ratios (out-of-place,
  // in-place) after the last group, then the tuner's pick (auto runs beside MPI).
  auto rows = tableRows(r.output);
  EXPECT_EQ(rows.size(), 5u) << r.output;
  for (const auto& f : rows) {
    ASSERT_GE(f.size(), 5u);
    EXPECT_EQ(f[f.size() - 5], "|") << r.output;
    // Numbers (two decimals): a loaded machine can make braid's blocking waits lose a scheduler
    // tick per call against MPI's spinning, and a ratio of 0.0004 prints as 0.00.
    EXPECT_GE(std::stod(f[f.size() - 4]), 0.0) << r.output;
    EXPECT_GE(std::stod(f[f.size() - 3]), 0.0) << r.output;  // "0.39|": stod stops at the bar
    EXPECT_EQ(f[f.size() - 2].rfind("auto(", 0), 0u) << r.output;
  }
}

// ---------------------------------------------------------------------------------------------
// scripts/bench-report checks itself.

TEST(BenchReport, SelfTest) {
  if (!pythonHas("matplotlib")) GTEST_SKIP() << kPython << " lacks matplotlib";
  Ran r = runShell(kReport + " --self-test");
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_FALSE(has(r.output, "FAIL")) << r.output;
}

}  // namespace

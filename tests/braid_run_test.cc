// End-to-end tests of the braid-run launcher: runs the built binary against small shell commands
// and checks the rank environment, the prefixed output, exit statuses, and that a failing,
// timed-out or interrupted job leaves no process behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

const std::string kBraidRun = std::string(BRAID_BIN_DIR) + "/tools/braid-run";

struct RunResult {
  int status = -1;  // raw wait status of braid-run
  std::string out;
  std::string err;
  double seconds = 0;

  int exitCode() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
  std::string describe() const {
    return "exit " + std::to_string(exitCode()) + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
  }
};

// braid-run started as a child of the test, its stdout and stderr captured.
class Launch {
 public:
  explicit Launch(const std::vector<std::string>& args) : start_(Clock::now()) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) std::abort();
    std::vector<std::string> all = {kBraidRun};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::execv(argv[0], argv.data());
      ::_exit(126);
    }
    ::close(out[1]);
    ::close(err[1]);
    outFd_ = out[0];
    errFd_ = err[0];
  }
  ~Launch() {
    if (pid_ <= 0) return;  // a test bailed out early: no stray launcher (its ranks follow it)
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    for (int fd : {outFd_, errFd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  pid_t pid() const { return pid_; }

  // Collects the output until braid-run exits; kills it after limitSec (a test failure).
  RunResult finish(double limitSec = 30) {
    RunResult r;
    Clock::time_point deadline = start_ + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(limitSec));
    while (outFd_ >= 0 || errFd_ >= 0) {
      pollfd fds[2] = {{outFd_, POLLIN, 0}, {errFd_, POLLIN, 0}};
      int ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (ms <= 0) {
        ADD_FAILURE() << "braid-run still running after " << limitSec << " s; killing it";
        ::kill(pid_, SIGKILL);
        break;
      }
      ::poll(fds, 2, ms);
      pump(fds[0], &outFd_, &r.out);
      pump(fds[1], &errFd_, &r.err);
    }
    while (::waitpid(pid_, &r.status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    for (int* fd : {&outFd_, &errFd_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    return r;
  }

 private:
  static void pump(const pollfd& p, int* fd, std::string* into) {
    if (*fd < 0 || p.revents == 0) return;
    char buf[4096];
    ssize_t n = ::read(*fd, buf, sizeof buf);
    if (n > 0) {
      into->append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      ::close(*fd);
      *fd = -1;
    }
  }

  Clock::time_point start_;
  pid_t pid_ = -1;
  int outFd_ = -1;
  int errFd_ = -1;
};

RunResult runBraid(const std::vector<std::string>& args, double limitSec = 30) {
  return Launch(args).finish(limitSec);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A scratch directory where ranks leave their pids.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "braid_run_test.XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  // Every pid written to a file of the directory.
  std::vector<pid_t> pids() const {
    std::vector<pid_t> out;
    for (const auto& entry : fs::directory_iterator(path_)) {
      std::ifstream in(entry.path());
      for (long pid; in >> pid;) out.push_back(static_cast<pid_t>(pid));
    }
    return out;
  }

 private:
  std::string path_;
};

// Gone, or a zombie (dead, waiting for a reaper the test does not control).
bool processGone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return paren == std::string::npos || (paren + 2 < text.size() && text[paren + 2] == 'Z');
}

void expectAllGone(const std::vector<pid_t>& pids) {
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(2);
  for (pid_t pid : pids) {
    while (!processGone(pid) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(processGone(pid)) << "process " << pid << " outlived braid-run";
  }
}

// Shell snippet: record the shell's pid and a background child's pid in dir, then wait until
// `count` pid files exist there (so every rank is known before anything fails).
std::string recordPids(const std::string& dir, int count) {
  return "echo $$ > " + dir + "/$RANK.sh; sleep 60 & echo $! > " + dir + "/$RANK.child; " +
         "while [ $(ls " + dir + " | wc -l) -lt " + std::to_string(count) +
         " ]; do sleep 0.01; done; ";
}

TEST(BraidRun, GivesEachRankItsEnvironment) {
  RunResult r = runBraid(
      {"-n", "4", "--", "sh", "-c",
       "echo \"$RANK $WORLD_SIZE $LOCAL_RANK $LOCAL_WORLD_SIZE $BRAID_RUN $BRAID_STORE_ADDR "
       "$BRAID_JOB_TOKEN\""});
  ASSERT_EQ(r.exitCode(), 0) << r.describe();
  std::vector<std::string> got = lines(r.out);
  ASSERT_EQ(got.size(), 4u) << r.describe();
  std::set<int> ranks;
  std::set<std::string> addrs, tokens;
  for (const std::string& line : got) {
    std::istringstream in(line);
    std::string prefix, addr, token;
    int rank = -1, world = -1, localRank = -1, localWorld = -1, braidRun = -1;
    in >> prefix >> rank >> world >> localRank >> localWorld >> braidRun >> addr >> token;
    EXPECT_EQ(prefix, "[" + std::to_string(rank) + "]") << line;
    EXPECT_EQ(world, 4) << line;
    EXPECT_EQ(localRank, rank) << line;
    EXPECT_EQ(localWorld, 4) << line;
    EXPECT_EQ(braidRun, 1) << line;
    EXPECT_TRUE(addr.starts_with("127.0.0.1:") && addr.size() > 10) << line;
    EXPECT_EQ(token.size(), 16u) << line;
    EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << line;
    ranks.insert(rank);
    addrs.insert(addr);
    tokens.insert(token);
  }
  EXPECT_EQ(ranks, (std::set<int>{0, 1, 2, 3}));
  EXPECT_EQ(addrs.size(), 1u);
  EXPECT_EQ(tokens.size(), 1u);
}

TEST(BraidRun, EnvOptionReachesEveryRank) {
  RunResult r = runBraid({"--env", "BRAID_TEST_A=x y", "--env", "BRAID_TEST_B=2", "-n", "2", "sh",
                          "-c", "echo \"$BRAID_TEST_A/$BRAID_TEST_B\""});
  ASSERT_EQ(r.exitCode(), 0) << r.describe();
  std::vector<std::string> got = lines(r.out);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"[0] x y/2", "[1] x y/2"})) << r.describe();
}

TEST(BraidRun, PrefixesLinesAndKeepsStreamsApart) {
  RunResult r = runBraid({"-n", "3", "--", "sh", "-c",
                          "echo out$RANK; echo err$RANK >&2; echo two$RANK; printf tail$RANK"});
  ASSERT_EQ(r.exitCode(), 0) << r.describe();
  std::map<std::string, int> out, err;
  for (const std::string& l : lines(r.out)) ++out[l];
  for (const std::string& l : lines(r.err)) ++err[l];
  for (int rank = 0; rank < 3; ++rank) {
    std::string p = "[" + std::to_string(rank) + "] ";
    std::string k = std::to_string(rank);
    EXPECT_EQ(out[p + "out" + k], 1) << r.describe();
    EXPECT_EQ(out[p + "two" + k], 1) << r.describe();
    EXPECT_EQ(out[p + "tail" + k], 1) << "partial last line lost\n" << r.describe();
    EXPECT_EQ(err[p + "err" + k], 1) << r.describe();
  }
  EXPECT_EQ(lines(r.out).size(), 9u) << r.describe();
  EXPECT_EQ(lines(r.err).size(), 3u) << r.describe();
  // A rank's lines stay in order.
  size_t a = r.out.find("[1] out1"), b = r.out.find("[1] two1"), c = r.out.find("[1] tail1");
  EXPECT_TRUE(a < b && b < c) << r.describe();
}

TEST(BraidRun, NoPrefixAndOutputFilter) {
  RunResult plain = runBraid({"--no-prefix", "-n", "1", "sh", "-c", "echo hello"});
  EXPECT_EQ(plain.exitCode(), 0) << plain.describe();
  EXPECT_EQ(plain.out, "hello\n");
  RunResult filtered =
      runBraid({"--output-filter", "1", "-n", "3", "sh", "-c", "echo o$RANK; echo e$RANK >&2"});
  EXPECT_EQ(filtered.exitCode(), 0) << filtered.describe();
  EXPECT_EQ(filtered.out, "[1] o1\n");
  EXPECT_EQ(lines(filtered.err).size(), 3u) << filtered.describe();
}

TEST(BraidRun, ManyLinesFromManyRanksStayWhole) {
  RunResult r = runBraid({"-n", "4", "sh", "-c",
                          "i=0; while [ $i -lt 2000 ]; do echo \"r$RANK $i "
                          "abcdefghijklmnopqrstuvwxyz0123456789\"; i=$((i+1)); done"});
  ASSERT_EQ(r.exitCode(), 0) << r.err;
  std::vector<std::string> got = lines(r.out);
  ASSERT_EQ(got.size(), 8000u);
  std::map<int, int> next;
  for (const std::string& line : got) {
    std::istringstream in(line);
    std::string prefix, tag, letters;
    int i = -1;
    in >> prefix >> tag >> i >> letters;
    int rank = prefix.size() == 3 ? prefix[1] - '0' : -1;
    ASSERT_EQ(tag, "r" + std::to_string(rank)) << line;
    ASSERT_EQ(letters, "abcdefghijklmnopqrstuvwxyz0123456789") << line;
    ASSERT_EQ(i, next[rank]++) << line;
  }
}

TEST(BraidRun, ExitsZeroWhenAllRanksSucceed) {
  RunResult r = runBraid({"-n", "3", "true"});
  EXPECT_EQ(r.exitCode(), 0) << r.describe();
  EXPECT_EQ(r.err, "");
}

TEST(BraidRun, FailingRankTerminatesTheOthers) {
  TempDir dir;
  RunResult r = runBraid({"-n", "3", "--", "sh", "-c",
                          recordPids(dir.path(), 6) + "if [ $RANK = 1 ]; then exit 3; fi; wait"});
  EXPECT_EQ(r.exitCode(), 3) << r.describe();
  EXPECT_NE(r.err.find("rank 1 (pid "), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("exited with status 3"), std::string::npos) << r.describe();
  EXPECT_LT(r.seconds, 4.0) << "the sleeping ranks were not terminated promptly";
  std::vector<pid_t> pids = dir.pids();
  EXPECT_EQ(pids.size(), 6u);
  expectAllGone(pids);
}

TEST(BraidRun, RankKilledBySignalIsNamed) {
  TempDir dir;
  RunResult r =
      runBraid({"-n", "2", "--", "sh", "-c",
                recordPids(dir.path(), 4) + "if [ $RANK = 1 ]; then kill -9 $$; fi; wait"});
  EXPECT_EQ(r.exitCode(), 128 + SIGKILL) << r.describe();
  EXPECT_NE(r.err.find("rank 1 (pid "), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("killed by signal 9 (SIGKILL)"), std::string::npos) << r.describe();
  EXPECT_LT(r.seconds, 4.0);
  expectAllGone(dir.pids());
}

TEST(BraidRun, TimeoutEndsTheJob) {
  RunResult r = runBraid({"--timeout", "1", "-n", "2", "sleep", "60"});
  EXPECT_EQ(r.exitCode(), 124) << r.describe();
  EXPECT_NE(r.err.find("--timeout"), std::string::npos) << r.describe();
  EXPECT_GE(r.seconds, 0.9);
  EXPECT_LT(r.seconds, 5.0);
}

TEST(BraidRun, RankIgnoringSigtermIsKilledAfterGrace) {
  TempDir dir;
  RunResult r = runBraid({"--timeout", "0.3", "--grace", "0.5", "-n", "2", "--", "sh", "-c",
                          "trap '' TERM; " + recordPids(dir.path(), 4) + "wait; wait"});
  EXPECT_EQ(r.exitCode(), 124) << r.describe();
  EXPECT_NE(r.err.find("sending SIGKILL"), std::string::npos) << r.describe();
  EXPECT_LT(r.seconds, 5.0);
  expectAllGone(dir.pids());
}

TEST(BraidRun, ForwardsSigtermAndLeavesNothing) {
  TempDir dir;
  Launch launch({"-n", "2", "--", "sh", "-c", recordPids(dir.path(), 4) + "wait"});
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  while (dir.pids().size() < 4 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(dir.pids().size(), 4u);
  ::kill(launch.pid(), SIGTERM);
  RunResult r = launch.finish();
  EXPECT_EQ(r.exitCode(), 128 + SIGTERM) << r.describe();
  EXPECT_NE(r.err.find("received SIGTERM"), std::string::npos) << r.describe();
  expectAllGone(dir.pids());
}

TEST(BraidRun, MissingCommandExits127) {
  RunResult r = runBraid({"-n", "2", "braid-no-such-command"});
  EXPECT_EQ(r.exitCode(), 127) << r.describe();
  EXPECT_NE(r.err.find("cannot run 'braid-no-such-command': No such file or directory"),
            std::string::npos)
      << r.describe();
}

TEST(BraidRun, BadOptionsExit2WithOneLine) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"-n", "0", "true"},
                                             {"-n", "2000", "true"},
                                             {"--bogus", "-n", "1", "true"},
                                             {"-n", "1"},
                                             {"true"},
                                             {"-n", "2", "--env", "NOEQUALS", "true"},
                                             {"-n", "2", "--env", "RANK=5", "true"},
                                             {"-n", "2", "--output-filter", "2", "true"},
                                             {"-n", "x", "true"}}) {
    RunResult r = runBraid(args);
    std::string shown;
    for (const std::string& a : args) shown += a + " ";
    EXPECT_EQ(r.exitCode(), 2) << shown << r.describe();
    EXPECT_EQ(lines(r.err).size(), 1u) << shown << r.describe();
    EXPECT_TRUE(r.err.starts_with("braid-run: ")) << shown << r.describe();
  }
}

TEST(BraidRun, HelpDocumentsEveryOption) {
  RunResult r = runBraid({"--help"});
  EXPECT_EQ(r.exitCode(), 0);
  for (const char* option : {"--np", "--grace", "--timeout", "--no-prefix", "--env", "--verbose",
                             "--output-filter", "--rank0-only", "--hosts", "--netns-prefix"}) {
    EXPECT_NE(r.out.find(option), std::string::npos) << option;
  }
}

}  // namespace

// Process supervision for braid-run (see launcher.h). One thread does everything: it forks the
// ranks, then polls a signalfd (SIGCHLD and the signals it forwards) together with the ranks'
// stdout/stderr pipes, re-emits whole lines with a rank prefix, reaps, and escalates
// SIGTERM -> grace -> SIGKILL on each rank's process group when the job has to end.
#include "launcher.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <map>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "util/socket.h"

namespace braid::launcher {
namespace {

using Clock = std::chrono::steady_clock;
using net::Fd;

constexpr size_t kReadChunk = 64 * 1024;
// A line longer than this is cut; the rest is emitted as the next line (bounds memory).
constexpr size_t kMaxLine = 1 << 20;

sigset_t gOriginalMask;  // the mask braid-run started with, given back to the ranks
bool gPrepared = false;

sigset_t handledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  return set;
}

std::string signalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

// Writes all of data to fd (waiting out EAGAIN on a non-blocking fd); false once fd is gone.
bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, -1);
    } else if (errno != EINTR) {
      return false;
    }
  }
  return true;
}

// One of braid-run's own outputs. After EPIPE (say, `braid-run ... | head`) output is dropped
// but the job keeps being supervised.
struct Sink {
  int fd;
  bool broken = false;
  void write(std::string_view data) {
    if (!broken && !writeAll(fd, data)) broken = true;
  }
};

// The read end of a rank's stdout or stderr pipe and its not yet complete last line.
struct Stream {
  Fd fd;
  std::string pending;
  Sink* sink = nullptr;  // nullptr: read and discarded (--output-filter)
};

struct Rank {
  int index = 0;
  pid_t pid = -1;  // also the rank's process group id
  bool running = false;
  Stream streams[2];  // stdout, stderr
};

// The executables execvp would try for argv0, searched in the rank's own PATH.
std::vector<std::string> execCandidates(const std::string& argv0,
                                        const std::vector<std::string>& env) {
  if (argv0.find('/') != std::string::npos) return {argv0};
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const std::string& kv : env) {
    if (kv.starts_with("PATH=")) path = kv.substr(5);
  }
  std::vector<std::string> out;
  size_t begin = 0;
  while (true) {
    size_t end = path.find(':', begin);
    std::string dir = path.substr(begin, end == std::string::npos ? end : end - begin);
    out.push_back((dir.empty() ? std::string(".") : dir) + "/" + argv0);
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return out;
}

// What a child that could not start the command reports through its exec-error pipe.
struct ChildFailure {
  enum Stage : int { kExec = 0, kNetns = 1 } stage = kExec;
  int error = 0;
};

// The forked child, up to exec. Only async-signal-safe calls: braid-run has other threads
// (the store server), so nothing may allocate or take a lock here.
[[noreturn]] void execChild(pid_t parent, int stdinFd, int stdoutFd, int stderrFd, int execErrFd,
                            int netnsFd, const rlimit& noFile, char* const* argv, char* const* envp,
                            const char* const* candidates, size_t candidateCount) {
  ::setpgid(0, 0);  // own process group: the whole rank (and its children) is signalled at once
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);                 // die with braid-run, even on its SIGKILL
  if (::getppid() != parent) ::_exit(kExitInternal);  // braid-run died before the prctl
  ::dup2(stdinFd, 0);
  ::dup2(stdoutFd, 1);
  ::dup2(stderrFd, 2);
  // Nothing else of braid-run's (store sockets, other ranks' pipes) leaks into the rank.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (netnsFd >= 0 && ::setns(netnsFd, CLONE_NEWNET) != 0) {
    ChildFailure failure{ChildFailure::kNetns, errno};
    ssize_t ignored = ::write(execErrFd, &failure, sizeof failure);
    (void)ignored;
    ::_exit(kExitInternal);
  }
  ::setrlimit(RLIMIT_NOFILE, &noFile);
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);
  ::sigprocmask(SIG_SETMASK, &gOriginalMask, nullptr);
  int err = ENOENT;
  bool sawEacces = false;
  for (size_t i = 0; i < candidateCount; ++i) {
    ::execve(candidates[i], argv, envp);
    if (errno == EACCES) {
      sawEacces = true;
    } else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV) {
      err = errno;
      sawEacces = false;
      break;
    }
  }
  if (sawEacces) err = EACCES;
  ChildFailure failure{ChildFailure::kExec, err};
  ssize_t ignored = ::write(execErrFd, &failure, sizeof failure);
  (void)ignored;
  ::_exit(kExitCannotRun);
}

class Job {
 public:
  explicit Job(const JobOptions& options) : o_(options), out_{options.outFd}, err_{options.errFd} {}

  int run();

 private:
  template <typename... Args>
  void say(fmt::format_string<Args...> format, Args&&... args) {
    err_.write("braid-run: " + fmt::format(format, std::forward<Args>(args)...) + "\n");
  }

  bool setUp();
  bool spawn(Rank& rank);
  void readStream(const Rank& rank, Stream& stream, bool toEnd);
  void emitLines(const Rank& rank, Stream& stream, bool flushPartial);
  void readSignals();
  void reap();
  void onExit(Rank& rank, int status);
  void shutdown(int exitCode, int sig);
  void signalRunning(int sig);
  void checkDeadlines();
  int pollTimeoutMs() const;
  void finish();

  const JobOptions& o_;
  Sink out_;
  Sink err_;
  std::vector<Rank> ranks_;
  std::unordered_map<pid_t, int> rankOfPid_;
  Fd sigFd_;
  Fd devNull_;
  std::map<std::string, Fd> netnsFds_;  // by path, opened once for all the ranks
  rlimit childNoFile_ = {};
  int running_ = 0;
  bool shuttingDown_ = false;
  bool killed_ = false;
  int exitCode_ = 0;
  int termSignal_ = SIGTERM;  // what the ranks were asked to stop with
  std::optional<Clock::time_point> timeoutAt_;
  std::optional<Clock::time_point> killAt_;
};

bool Job::setUp() {
  if (!gPrepared) prepareProcess();
  sigset_t set = handledSignals();
  sigFd_ = Fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  devNull_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!sigFd_.valid() || !devNull_.valid()) {
    say("cannot set up: {}", strerror(errno));
    return false;
  }
  for (const std::string& path : o_.netns) {
    if (path.empty() || netnsFds_.count(path) > 0) continue;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      say("cannot open the network namespace {}: {}", path, strerror(errno));
      return false;
    }
    netnsFds_.emplace(path, std::move(fd));
  }
  // Orphans of a rank (its children, once it died) are reparented to us and reaped by us,
  // so none lingers as a zombie where PID 1 does not reap.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Two pipes per rank: raise the soft descriptor limit if needed; ranks get the old one back.
  ::getrlimit(RLIMIT_NOFILE, &childNoFile_);
  rlim_t need = 2 * static_cast<rlim_t>(o_.envs.size()) + 64;
  if (childNoFile_.rlim_cur != RLIM_INFINITY && childNoFile_.rlim_cur < need) {
    if (childNoFile_.rlim_max != RLIM_INFINITY && childNoFile_.rlim_max < need) {
      say("{} ranks need {} file descriptors but RLIMIT_NOFILE allows {}", o_.envs.size(), need,
          childNoFile_.rlim_max);
      return false;
    }
    rlimit raised = childNoFile_;
    raised.rlim_cur = need;
    ::setrlimit(RLIMIT_NOFILE, &raised);
  }
  return true;
}

bool Job::spawn(Rank& rank) {
  const std::vector<std::string>& env = o_.envs[rank.index];
  std::vector<std::string> candidates = execCandidates(o_.argv[0], env);
  std::vector<const char*> candidatePtrs;
  for (const std::string& c : candidates) candidatePtrs.push_back(c.c_str());
  std::vector<char*> argv;
  for (const std::string& a : o_.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int p[3][2];  // stdout, stderr, exec error report
  Fd ends[3][2];
  for (int i = 0; i < 3; ++i) {
    if (::pipe2(p[i], O_CLOEXEC) != 0) {
      say("cannot start rank {}: pipe: {}", rank.index, strerror(errno));
      shutdown(kExitInternal, SIGTERM);
      return false;
    }
    ends[i][0] = Fd(p[i][0]);
    ends[i][1] = Fd(p[i][1]);
  }
  const std::string* netns = o_.netns.empty() ? nullptr : &o_.netns[rank.index];
  int netnsFd = netns == nullptr || netns->empty() ? -1 : netnsFds_.at(*netns).get();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    say("cannot start rank {}: fork: {}", rank.index, strerror(errno));
    shutdown(kExitInternal, SIGTERM);
    return false;
  }
  if (pid == 0) {
    execChild(parent, devNull_.get(), p[0][1], p[1][1], p[2][1], netnsFd, childNoFile_, argv.data(),
              envp.data(), candidatePtrs.data(), candidatePtrs.size());
  }
  ::setpgid(pid, pid);  // also done by the child; whichever runs first wins the race
  for (auto& e : ends) e[1].reset();
  ChildFailure failure;
  ssize_t n;
  do {
    n = ::read(ends[2][0].get(), &failure, sizeof failure);  // EOF = exec succeeded
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (failure.stage == ChildFailure::kNetns) {
      say("cannot start rank {} in the network namespace {}: {}", rank.index, *netns,
          strerror(failure.error));
      shutdown(kExitInternal, SIGTERM);
    } else {
      say("cannot run '{}': {}", o_.argv[0], strerror(failure.error));
      shutdown(kExitCannotRun, SIGTERM);
    }
    return false;
  }
  rank.pid = pid;
  rank.running = true;
  ++running_;
  rankOfPid_[pid] = rank.index;
  for (int i = 0; i < 2; ++i) {
    ::fcntl(ends[i][0].get(), F_SETFL, ::fcntl(ends[i][0].get(), F_GETFL) | O_NONBLOCK);
    rank.streams[i].fd = std::move(ends[i][0]);
  }
  bool showStdout = o_.stdoutRank < 0 || o_.stdoutRank == rank.index;
  rank.streams[0].sink = showStdout ? &out_ : nullptr;
  rank.streams[1].sink = &err_;
  if (o_.verbose) say("rank {} started (pid {})", rank.index, pid);
  return true;
}

void Job::readStream(const Rank& rank, Stream& stream, bool toEnd) {
  char buf[kReadChunk];
  while (stream.fd.valid()) {
    ssize_t n = ::read(stream.fd.get(), buf, sizeof buf);
    if (n > 0) {
      if (stream.sink != nullptr) stream.pending.append(buf, static_cast<size_t>(n));
      emitLines(rank, stream, false);
      if (!toEnd) return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {  // EOF (every writer closed) or a read error
      emitLines(rank, stream, true);
      stream.fd.reset();
    }
  }
}

// Emits every complete line of stream.pending (and the partial rest with flushPartial) in one
// write, so lines of different ranks never mix.
void Job::emitLines(const Rank& rank, Stream& stream, bool flushPartial) {
  std::string& pending = stream.pending;
  if (stream.sink == nullptr) {
    pending.clear();
    return;
  }
  size_t take = pending.rfind('\n');
  take = take == std::string::npos ? 0 : take + 1;
  if (flushPartial || (take == 0 && pending.size() >= kMaxLine)) take = pending.size();
  if (take == 0) return;
  std::string_view text(pending.data(), take);
  if (!o_.prefix) {
    stream.sink->write(text);
  } else {
    std::string prefix = fmt::format("[{}] ", rank.index);
    std::string out;
    out.reserve(text.size() + prefix.size() * 8 + 1);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      size_t stop = nl == std::string_view::npos ? text.size() : nl;
      out += prefix;
      out.append(text.substr(pos, stop - pos));
      out += '\n';
      pos = stop + 1;
    }
    stream.sink->write(out);
  }
  pending.erase(0, take);
}

void Job::readSignals() {
  signalfd_siginfo info;
  while (::read(sigFd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) continue;  // reap() runs after every wake-up
    if (!shuttingDown_) {
      say("received {}", signalName(sig));
      shutdown(128 + sig, sig);
    } else if (!killed_) {
      say("received {} again; killing the ranks", signalName(sig));
      signalRunning(SIGKILL);
      killed_ = true;
      killAt_.reset();
    }
  }
}

void Job::reap() {
  while (true) {
    int status;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    auto it = rankOfPid_.find(pid);
    if (it == rankOfPid_.end()) continue;  // an orphaned descendant of a rank
    onExit(ranks_[it->second], status);
  }
}

void Job::onExit(Rank& rank, int status) {
  rank.running = false;
  --running_;
  // Its last words come before braid-run's report about it.
  for (Stream& s : rank.streams) {
    readStream(rank, s, true);
    emitLines(rank, s, true);
  }
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  // During a shutdown, deaths by braid-run's own signals are expected; anything else (a rank
  // that failed on its own before braid-run noticed) is still reported.
  bool expected = shuttingDown_ && WIFSIGNALED(status) &&
                  (WTERMSIG(status) == termSignal_ || (killed_ && WTERMSIG(status) == SIGKILL));
  if (shuttingDown_ && !ok && !expected) {
    say("rank {} (pid {}) {}", rank.index, rank.pid, describeWaitStatus(status));
    return;
  }
  if (ok || shuttingDown_) {
    if (o_.verbose) say("rank {} (pid {}) {}", rank.index, rank.pid, describeWaitStatus(status));
    return;
  }
  say("rank {} (pid {}) {}", rank.index, rank.pid, describeWaitStatus(status));
  shutdown(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), SIGTERM);
}

// Ends the job: records why (the exit status) and signals every running rank.
void Job::shutdown(int exitCode, int sig) {
  if (shuttingDown_) return;
  shuttingDown_ = true;
  exitCode_ = exitCode;
  timeoutAt_.reset();
  termSignal_ = sig;
  if (running_ == 0) return;
  say("sending {} to {} running rank(s); SIGKILL after {} s", signalName(sig), running_,
      o_.graceSec);
  signalRunning(sig);
  killAt_ = Clock::now() +
            std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.graceSec));
}

void Job::signalRunning(int sig) {
  for (const Rank& r : ranks_) {
    if (!r.running) continue;
    ::killpg(r.pid, sig);
    if (sig != SIGKILL) ::killpg(r.pid, SIGCONT);  // a stopped rank must see it too
  }
}

void Job::checkDeadlines() {
  Clock::time_point now = Clock::now();
  if (timeoutAt_ && now >= *timeoutAt_) {
    say("job exceeded --timeout {} s", o_.timeoutSec);
    shutdown(kExitTimeout, SIGTERM);
  }
  if (killAt_ && now >= *killAt_) {
    killAt_.reset();
    for (const Rank& r : ranks_) {
      if (r.running) {
        say("rank {} (pid {}) still running {} s after {}; sending SIGKILL", r.index, r.pid,
            o_.graceSec, signalName(termSignal_));
      }
    }
    signalRunning(SIGKILL);
    killed_ = true;
  }
}

int Job::pollTimeoutMs() const {
  std::optional<Clock::time_point> next = timeoutAt_;
  if (killAt_ && (!next || *killAt_ < *next)) next = killAt_;
  if (!next) return -1;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, INT_MAX));
}

// After the last rank exited: no process may outlive the job, and no output may be lost.
void Job::finish() {
  for (const Rank& r : ranks_) {
    if (r.pid > 0 && ::killpg(r.pid, SIGKILL) == 0 && o_.verbose) {
      say("killed processes rank {} left behind", r.index);
    }
  }
  for (Rank& r : ranks_) {
    for (Stream& s : r.streams) {
      readStream(r, s, true);
      emitLines(r, s, true);
      s.fd.reset();
    }
  }
  // Reap the leftovers reparented to us (we are their subreaper); bounded, in case one of
  // them escaped into its own session.
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < deadline) {
    pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
    if (pid < 0 && errno != EINTR) break;  // ECHILD: none left
    if (pid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

int Job::run() {
  if (o_.argv.empty() || o_.envs.empty()) {
    say("nothing to run");
    return kExitUsage;
  }
  if (!o_.netns.empty() && o_.netns.size() != o_.envs.size()) {
    say("internal: {} network namespaces for {} ranks", o_.netns.size(), o_.envs.size());
    return kExitInternal;
  }
  if (!setUp()) return kExitInternal;
  ranks_.resize(o_.envs.size());
  for (size_t i = 0; i < ranks_.size(); ++i) ranks_[i].index = static_cast<int>(i);
  for (Rank& r : ranks_) {
    if (!spawn(r)) break;
  }
  if (o_.timeoutSec > 0 && !shuttingDown_) {
    timeoutAt_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(o_.timeoutSec));
  }
  std::vector<pollfd> fds;
  std::vector<std::pair<Rank*, Stream*>> owners;
  while (running_ > 0) {
    fds.assign(1, pollfd{sigFd_.get(), POLLIN, 0});
    owners.assign(1, {nullptr, nullptr});
    for (Rank& r : ranks_) {
      for (Stream& s : r.streams) {
        if (!s.fd.valid()) continue;
        fds.push_back(pollfd{s.fd.get(), POLLIN, 0});
        owners.emplace_back(&r, &s);
      }
    }
    if (::poll(fds.data(), fds.size(), pollTimeoutMs()) < 0 && errno != EINTR) {
      say("poll: {}", strerror(errno));
      shutdown(kExitInternal, SIGKILL);
    }
    if (fds[0].revents != 0) readSignals();
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) readStream(*owners[i].first, *owners[i].second, false);
    }
    reap();
    checkDeadlines();
  }
  finish();
  return exitCode_;
}

}  // namespace

void prepareProcess() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) ::open("/dev/null", O_RDWR);  // gets fd
  }
  sigset_t set = handledSignals();
  ::pthread_sigmask(SIG_BLOCK, &set, &gOriginalMask);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGCHLD, SIG_DFL);  // an ignored SIGCHLD would reap the ranks behind our back
  gPrepared = true;
}

int runJob(const JobOptions& options) { return Job(options).run(); }

std::string describeWaitStatus(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return fmt::format("killed by signal {} ({}){}", sig, signalName(sig),
                       WCOREDUMP(status) ? ", core dumped" : "");
  }
  return fmt::format("changed state (wait status {:#x})", status);
}

}  // namespace braid::launcher

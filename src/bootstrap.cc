// Bootstrap from a launcher's environment. braid never schedules processes itself: it reads
// what braid-run, torchrun, Open MPI or Slurm put in the environment, finds (or serves) a TCP
// store, and builds the first communicator over it.
//
//   braid-run  BRAID_STORE_ADDR, BRAID_JOB_TOKEN, RANK, WORLD_SIZE (braid-run serves the store)
//   torchrun   RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (rank 0 serves)
//   Open MPI   OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK
//   Slurm      SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID
// MPI and Slurm jobs use MASTER_ADDR/MASTER_PORT when set; otherwise rank 0 serves the store
// on an ephemeral port and publishes it in a private rendezvous file (single-host jobs).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "braid/communicator.h"
#include "communicator_impl.h"
#include "logging.h"
#include "params.h"
#include "util/socket.h"

namespace braid {
namespace {

using std::chrono::milliseconds;

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

Result<int> envInt(const char* name) {
  const char* v = env(name);
  if (v == nullptr) return invalidArgument(fmt::format("{} is not set", name));
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < 0 || x > (1 << 24)) {
    return invalidArgument(fmt::format("{}='{}' is not a valid rank or size", name, v));
  }
  return static_cast<int>(x);
}

struct Launch {
  std::string launcher;
  int rank = 0;
  int size = 0;
  std::string jobKey;  // identifies the job for the rendezvous file
};

Result<Launch> detectLaunch() {
  Launch l;
  const char* rankVar = nullptr;
  const char* sizeVar = nullptr;
  if (env("BRAID_STORE_ADDR") || (env("RANK") && env("WORLD_SIZE"))) {
    l.launcher = env("BRAID_STORE_ADDR") ? "braid-run" : "torchrun";
    rankVar = "RANK";
    sizeVar = "WORLD_SIZE";
  } else if (env("OMPI_COMM_WORLD_RANK")) {
    l.launcher = "mpirun";
    rankVar = "OMPI_COMM_WORLD_RANK";
    sizeVar = "OMPI_COMM_WORLD_SIZE";
    const char* job = env("OMPI_MCA_ess_base_jobid");
    if (job == nullptr) job = env("PMIX_NAMESPACE");
    l.jobKey = fmt::format("mpi-{}-{}", job ? job : "x", getppid());
  } else if (env("SLURM_PROCID")) {
    l.launcher = "srun";
    rankVar = "SLURM_PROCID";
    sizeVar = "SLURM_NTASKS";
    l.jobKey = fmt::format("slurm-{}-{}", env("SLURM_JOB_ID") ? env("SLURM_JOB_ID") : "x",
                           env("SLURM_STEP_ID") ? env("SLURM_STEP_ID") : "x");
  } else {
    return invalidArgument(
        "no launcher environment found: run under braid-run, torchrun, mpirun or srun, or set "
        "RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT");
  }
  auto rank = envInt(rankVar);
  if (!rank.isOk()) return rank.status();
  auto size = envInt(sizeVar);
  if (!size.isOk()) return size.status();
  l.rank = *rank;
  l.size = *size;
  if (l.size < 1 || l.rank >= l.size) {
    return invalidArgument(
        fmt::format("{}={} is out of range for {}={}", rankVar, l.rank, sizeVar, l.size));
  }
  return l;
}

uint64_t tokenFromEnvironment(const std::string& fallback) {
  if (!params().jobToken.empty()) return std::strtoull(params().jobToken.c_str(), nullptr, 16);
  // No shared secret: derive one from what every rank of this job sees. This keeps unrelated
  // jobs apart but is not a secret; set BRAID_JOB_TOKEN for that.
  uint64_t h = 1469598103934665603ull;
  for (char c : fallback) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return h;
}

// Removes the rendezvous file when rank 0's communicator goes away.
struct RendezvousFile {
  std::string path;
  RendezvousFile() = default;
  RendezvousFile(const RendezvousFile&) = delete;
  RendezvousFile& operator=(const RendezvousFile&) = delete;
  ~RendezvousFile() {
    if (!path.empty()) unlink(path.c_str());
  }
};

}  // namespace

Result<std::unique_ptr<Communicator>> Communicator::fromEnvironment() {
  BRAID_RETURN_IF_ERROR(paramsStatus());
  auto launch = detectLaunch();
  if (!launch.isOk()) return launch.status();
  const Launch& l = *launch;
  const milliseconds timeout(static_cast<int64_t>(params().timeoutSec * 1000));
  std::vector<std::shared_ptr<void>> keepAlive;
  std::shared_ptr<Store> store;

  auto serveAndConnect = [&](const std::string& bindHost, uint16_t port,
                             uint64_t token) -> Result<uint16_t> {
    auto server = startTcpStoreServer(bindHost, port, token);
    if (!server.isOk()) return server.status();
    uint16_t bound = (*server)->port();
    keepAlive.push_back(std::shared_ptr<TcpStoreServer>(std::move(*server)));
    auto client = connectTcpStore("127.0.0.1", bound, token, timeout);
    if (!client.isOk()) return client.status();
    store = *client;
    return bound;
  };

  std::string storeAddr = params().storeAddr;
  const char* masterAddr = env("MASTER_ADDR");
  const char* masterPort = env("MASTER_PORT");
  if (!storeAddr.empty()) {
    std::string host;
    uint16_t port = 0;
    BRAID_RETURN_IF_ERROR(net::parseHostPort(storeAddr, &host, &port));
    if (params().jobToken.empty())
      return invalidArgument("BRAID_STORE_ADDR is set but BRAID_JOB_TOKEN is not");
    auto client = connectTcpStore(host, port, tokenFromEnvironment(""), timeout);
    if (!client.isOk()) return client.status();
    store = *client;
  } else if (masterAddr != nullptr && masterPort != nullptr) {
    int port = std::atoi(masterPort);
    if (port <= 0 || port > 65535)
      return invalidArgument(fmt::format("MASTER_PORT='{}' is not a port", masterPort));
    const char* runId = env("TORCHELASTIC_RUN_ID");
    uint64_t token = tokenFromEnvironment(
        fmt::format("{}:{}:{}:{}", masterAddr, port, l.size, runId ? runId : ""));
    if (l.rank == 0) {
      auto bound = serveAndConnect("0.0.0.0", static_cast<uint16_t>(port), token);
      if (!bound.isOk()) return bound.status();
    } else {
      auto client = connectTcpStore(masterAddr, static_cast<uint16_t>(port), token, timeout);
      if (!client.isOk()) return client.status();
      store = *client;
    }
  } else if (!l.jobKey.empty()) {
    const char* tmp = env("TMPDIR");
    std::string path =
        fmt::format("{}/braid-{}-{}.rendezvous", tmp ? tmp : "/tmp", getuid(), l.jobKey);
    if (l.rank == 0) {
      uint64_t token = net::randomU64();
      auto bound = serveAndConnect("0.0.0.0", 0, token);
      if (!bound.isOk()) return bound.status();
      std::string temp = path + ".tmp";
      int fd = open(temp.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
      if (fd < 0) return systemError("create " + temp);
      std::string text = fmt::format("127.0.0.1 {} {:016x}\n", *bound, token);
      bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
      close(fd);
      if (!ok || rename(temp.c_str(), path.c_str()) != 0) return systemError("write " + path);
      auto cleanup = std::make_shared<RendezvousFile>();
      cleanup->path = path;
      keepAlive.push_back(cleanup);
    } else {
      auto deadline = std::chrono::steady_clock::now() + timeout;
      std::string host;
      unsigned port = 0;
      unsigned long long token = 0;
      for (;;) {
        std::ifstream in(path);
        if (in >> host >> port >> std::hex >> token) break;
        if (std::chrono::steady_clock::now() > deadline) {
          return timeoutError(
              fmt::format("rank 0 did not publish the store in {} (is rank 0 running?)", path));
        }
        std::this_thread::sleep_for(milliseconds(5));
      }
      auto client = connectTcpStore(host, static_cast<uint16_t>(port), token, timeout);
      if (!client.isOk()) return client.status();
      store = *client;
    }
  } else {
    return invalidArgument(fmt::format(
        "launched by {} but MASTER_ADDR/MASTER_PORT are not set: braid cannot find rank 0",
        l.launcher));
  }

  BRAID_LOG(kInfo, kBoot, "rank {}/{} bootstrapping from {}", l.rank, l.size, l.launcher);
  CommOptions options;
  options.store = store;
  options.rank = l.rank;
  options.size = l.size;
  auto comm = Communicator::create(options);
  if (!comm.isOk()) return comm.status();
  (*comm)->impl_->keepAlive = std::move(keepAlive);
  return comm;
}

}  // namespace braid

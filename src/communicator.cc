// Communicator: creation (rendezvous through the store, one transport per peer chosen from the
// topology), split, and the thin public wrappers over the executor.
#include "braid/communicator.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "communicator_impl.h"
#include "logging.h"
#include "params.h"
#include "shm/transport.h"
#include "tcp/transport.h"
#include "topology.h"
#include "util/socket.h"
#include "util/spin.h"

namespace braid {

namespace {
using std::chrono::milliseconds;

milliseconds timeoutOf(const CommOptions& o) {
  if (o.timeout.count() > 0) return o.timeout;
  return milliseconds(static_cast<int64_t>(params().timeoutSec * 1000.0));
}
}  // namespace

Status Communicator::Impl::init(const CommOptions& options, std::shared_ptr<Store> store) {
  options_ = options;
  rank_ = options.rank;
  size_ = options.size;
  store_ = std::move(store);
  setLogRank(rank_);
  const milliseconds timeout = timeoutOf(options);
  const Clock::time_point deadline = Clock::now() + timeout;
  auto left = [&] {
    return std::max(milliseconds(1),
                    std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  };

  // Who is where.
  hostId_ = !options.hostId.empty() ? options.hostId : localHostId();
  BRAID_RETURN_IF_ERROR(store_->setString(fmt::format("host/{}", rank_), hostId_));
  hostIds_.resize(size_);
  for (int r = 0; r < size_; ++r) {
    auto h = store_->getString(fmt::format("host/{}", r), left());
    if (!h.isOk()) {
      return Status(h.status().code(), fmt::format("rank {} did not join within the timeout: {}", r,
                                                   h.status().message()));
    }
    hostIds_[r] = *h;
  }
  topology = commTopologyFromHostIds(hostIds_);
  if (gpu::built()) device_ = gpu::chooseDevice(topology.localRankOf[rank_]);
  // A per-communicator id and secret, made by rank 0 and shared through the (authenticated)
  // store: transport connections must present the secret.
  if (rank_ == 0) {
    BRAID_RETURN_IF_ERROR(store_->setString(
        "comm/secret", fmt::format("{:016x} {:016x}", net::randomU64(), net::randomU64())));
  }
  auto secret = store_->getString("comm/secret", left());
  if (!secret.isOk()) return secret.status();
  unsigned long long commId = 0, token = 0;
  if (sscanf(secret->c_str(), "%llx %llx", &commId, &token) != 2) {
    return internalError("malformed communicator secret in the store");
  }

  // Transport per peer.
  std::string forced = !options.transport.empty() ? options.transport : params().transport;
  if (!forced.empty() && forced != "shm" && forced != "tcp") {
    return invalidArgument(fmt::format("BRAID_TRANSPORT='{}': expected shm or tcp", forced));
  }
  std::vector<int> shmPeers, tcpPeers;
  bool allLocal = true;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    bool sameHost = hostIds_[r] == hostId_;
    allLocal = allLocal && sameHost;
    if (forced == "shm" && !sameHost) {
      return invalidArgument(
          fmt::format("BRAID_TRANSPORT=shm but rank {} is on another host ({} vs {})", r,
                      hostIds_[r], hostId_));
    }
    ((forced == "tcp" || (forced.empty() && !sameHost)) ? tcpPeers : shmPeers).push_back(r);
  }

  TransportSetup base;
  base.rank = rank_;
  base.size = size_;
  base.store = store_;
  base.token = token;
  base.commId = commId;
  base.deadline = deadline;
  env_.connections.assign(size_, nullptr);
  env_.transportOf.assign(size_, nullptr);
  auto attach = [&](Result<std::unique_ptr<Transport>> created, const std::vector<int>& peers) {
    if (!created.isOk()) return created.status();
    Transport* t = created->get();
    for (int p : peers) {
      env_.connections[p] = t->connection(p);
      env_.transportOf[p] = t;
      if (env_.connections[p] == nullptr)
        return internalError(fmt::format("{} has no connection to rank {}", t->name(), p));
    }
    env_.transports.push_back(t);
    transports_.push_back(std::move(*created));
    return Status();
  };
  if (!shmPeers.empty()) {
    TransportSetup s = base;
    s.peers = shmPeers;
    s.store = makePrefixStore(store_, "shm.");
    BRAID_RETURN_IF_ERROR(attach(createShmTransport(s), shmPeers));
  }
  if (!shmPeers.empty() && tcpPeers.empty()) env_.arena = transports_.back()->arena();
  if (!tcpPeers.empty()) {
    TransportSetup s = base;
    s.peers = tcpPeers;
    s.store = makePrefixStore(store_, "tcp.");
    s.socketsPerPeer = params().tcpSockets > 0 ? static_cast<int>(params().tcpSockets)
                       : allLocal              ? 1
                                               : 2;
    // Measured on the 2-core machine, 4 ranks over loopback, 64 MiB allReduce: busbw 1.06 GB/s
    // with 512 KiB buffers against 0.77 with 4 MiB (the kernel doubles both).
    s.socketBufferBytes = params().tcpBufferBytes > 0   ? static_cast<int>(params().tcpBufferBytes)
                          : params().tcpBufferBytes < 0 ? 0
                          : allLocal                    ? 512 << 10
                                                        : 4 << 20;
    s.advertiseAddress = !params().socketAddr.empty() ? params().socketAddr
                         : allLocal                   ? "127.0.0.1"
                                                      : advertisedAddress();
    BRAID_RETURN_IF_ERROR(attach(createTcpTransport(s), tcpPeers));
  }
  env_.rank = rank_;
  env_.size = size_;
  env_.aborted = &aborted_;
  env_.timeout = timeout;
  env_.scratch = &scratch_;
  env_.nestedScratch = &nestedScratch_;
  env_.topology = &topology;
  env_.runStage = [this](OpContext& group, Group which, const OpDesc& d) {
    return runStage(group, which, d);
  };
  sendSeq_.assign(size_, 0);
  recvSeq_.assign(size_, 0);
  const int host = topology.hostOf[rank_];
  noteRanksOnHost(static_cast<int>(topology.ranksOnHost[host].size()));
  BRAID_LOG(
      kInfo, kInit,
      "rank {}/{} on host {} (host {} of {}, local rank {} of {}): {} shm peers, {} tcp peers",
      rank_, size_, hostId_, host, topology.hosts, topology.localRankOf[rank_],
      topology.ranksOnHost[host].size(), shmPeers.size(), tcpPeers.size());
  BRAID_RETURN_IF_ERROR(configureTuner(env_.arena != nullptr, forced == "tcp"));
  return algorithms_.parse(params().algo);
}

Status Communicator::Impl::setAlgorithm(CollectiveKind kind, const std::string& name) {
  std::lock_guard<std::mutex> exec(execMu_);
  return algorithms_.force(kind, name);
}

std::string Communicator::Impl::algorithmFor(CollectiveKind kind, size_t bytes) const {
  return algorithms_.choose(kind, bytes).algorithm->name;
}

double Communicator::Impl::predictedTimeUs(CollectiveKind kind, size_t bytes) const {
  return algorithms_.choose(kind, bytes).predictedUs;
}

std::string Communicator::Impl::transportTo(int peer) const {
  if (peer == rank_) return "self";
  if (peer < 0 || peer >= size_ || env_.transportOf[peer] == nullptr) return "none";
  return env_.transportOf[peer]->name();
}

Result<std::unique_ptr<Communicator>> Communicator::create(const CommOptions& options) {
  BRAID_RETURN_IF_ERROR(paramsStatus());
  if (options.store == nullptr) return invalidArgument("CommOptions.store is null");
  if (options.size < 1)
    return invalidArgument(fmt::format("size {} must be at least 1", options.size));
  if (options.rank < 0 || options.rank >= options.size) {
    return invalidArgument(
        fmt::format("rank {} is out of range [0, {})", options.rank, options.size));
  }
  // Several communicators may be built over one store: the k-th one a rank creates uses the
  // key space "braid/<k>/", the same on every rank that creates them in the same order.
  auto generation = options.store->add(fmt::format("braid/generation/{}", options.rank), 1);
  if (!generation.isOk()) return generation.status();
  auto store = makePrefixStore(options.store, fmt::format("braid/{}/", *generation));
  auto impl = std::make_unique<Impl>();
  Status st = impl->init(options, store);
  if (!st.isOk()) return st;
  return std::unique_ptr<Communicator>(new Communicator(std::move(impl)));
}

Result<std::unique_ptr<Communicator>> Communicator::Impl::split(int color, int key) {
  // Everyone learns everyone's (color, key) through an allGather on this communicator.
  std::vector<int32_t> mine = {color, key};
  std::vector<int32_t> all(2 * static_cast<size_t>(size_));
  OpDesc d;
  d.kind = CollectiveKind::kAllGather;
  d.send = mine.data();
  d.recv = all.data();
  d.count = 2;
  d.dtype = DataType::kInt32;
  BRAID_RETURN_IF_ERROR(run(d));
  const int splitId = splitCount_++;
  if (color < 0) return std::unique_ptr<Communicator>();
  std::vector<std::tuple<int, int>> members;  // (key, old rank)
  for (int r = 0; r < size_; ++r) {
    if (all[2 * r] == color) members.emplace_back(all[2 * r + 1], r);
  }
  std::sort(members.begin(), members.end());
  CommOptions o = options_;
  o.size = static_cast<int>(members.size());
  o.rank = static_cast<int>(std::find(members.begin(), members.end(), std::tuple{key, rank_}) -
                            members.begin());
  o.hostId = hostId_;
  o.store = makePrefixStore(store_, fmt::format("split/{}/{}/", splitId, color));
  auto child = Communicator::create(o);
  if (child.isOk()) (*child)->impl_->keepAlive = keepAlive;
  return child;
}

Communicator::Communicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Communicator::~Communicator() = default;

int Communicator::rank() const { return impl_->rank(); }
int Communicator::size() const { return impl_->size(); }
std::string Communicator::transportTo(int peer) const { return impl_->transportTo(peer); }
Status Communicator::setAlgorithm(CollectiveKind kind, const std::string& name) {
  return impl_->setAlgorithm(kind, name);
}
std::vector<std::string> Communicator::algorithms(CollectiveKind kind) const {
  return impl_->algorithms(kind);
}
std::string Communicator::algorithmFor(CollectiveKind kind, size_t count, DataType dtype) const {
  return impl_->algorithmFor(kind, count * dataTypeSize(dtype));
}
double Communicator::predictedTimeUs(CollectiveKind kind, size_t count, DataType dtype) const {
  return impl_->predictedTimeUs(kind, count * dataTypeSize(dtype));
}
std::string Communicator::lastDeviceAlgorithm() const { return impl_->lastDeviceAlgorithm(); }
Result<std::unique_ptr<Communicator>> Communicator::split(int color, int key) {
  return impl_->split(color, key);
}
void Communicator::abort() { impl_->abort(); }
Status Communicator::asyncError() const { return impl_->asyncError(); }

namespace {
OpDesc op(CollectiveKind kind, const void* send, void* recv, size_t count, DataType dtype,
          ReduceOp rop = ReduceOp::kSum, int root = 0, int peer = -1) {
  OpDesc d;
  d.kind = kind;
  d.send = send;
  d.recv = recv;
  d.count = count;
  d.dtype = dtype;
  d.op = rop;
  d.root = root;
  d.peer = peer;
  return d;
}
using K = CollectiveKind;
}  // namespace

Status Communicator::allReduce(const void* s, void* r, size_t n, DataType t, ReduceOp o) {
  return impl_->run(op(K::kAllReduce, s, r, n, t, o));
}
Status Communicator::reduceScatter(const void* s, void* r, size_t n, DataType t, ReduceOp o) {
  return impl_->run(op(K::kReduceScatter, s, r, n, t, o));
}
Status Communicator::allGather(const void* s, void* r, size_t n, DataType t) {
  return impl_->run(op(K::kAllGather, s, r, n, t));
}
Status Communicator::broadcast(const void* s, void* r, size_t n, DataType t, int root) {
  return impl_->run(op(K::kBroadcast, s, r, n, t, ReduceOp::kSum, root));
}
Status Communicator::reduce(const void* s, void* r, size_t n, DataType t, ReduceOp o, int root) {
  return impl_->run(op(K::kReduce, s, r, n, t, o, root));
}
Status Communicator::allToAll(const void* s, void* r, size_t n, DataType t) {
  return impl_->run(op(K::kAllToAll, s, r, n, t));
}
Status Communicator::barrier() {
  return impl_->run(op(K::kBarrier, nullptr, nullptr, 0, DataType::kUint8));
}
Status Communicator::send(const void* b, size_t n, DataType t, int peer) {
  return impl_->run(op(K::kSend, b, nullptr, n, t, ReduceOp::kSum, 0, peer));
}
Status Communicator::recv(void* b, size_t n, DataType t, int peer) {
  return impl_->run(op(K::kRecv, nullptr, b, n, t, ReduceOp::kSum, 0, peer));
}

Status Communicator::allReduce(const void* s, void* r, size_t n, DataType t, ReduceOp o,
                               Stream st) {
  return impl_->runOnStream(op(K::kAllReduce, s, r, n, t, o), st);
}
Status Communicator::reduceScatter(const void* s, void* r, size_t n, DataType t, ReduceOp o,
                                   Stream st) {
  return impl_->runOnStream(op(K::kReduceScatter, s, r, n, t, o), st);
}
Status Communicator::allGather(const void* s, void* r, size_t n, DataType t, Stream st) {
  return impl_->runOnStream(op(K::kAllGather, s, r, n, t), st);
}
Status Communicator::broadcast(const void* s, void* r, size_t n, DataType t, int root, Stream st) {
  return impl_->runOnStream(op(K::kBroadcast, s, r, n, t, ReduceOp::kSum, root), st);
}
Status Communicator::reduce(const void* s, void* r, size_t n, DataType t, ReduceOp o, int root,
                            Stream st) {
  return impl_->runOnStream(op(K::kReduce, s, r, n, t, o, root), st);
}
Status Communicator::allToAll(const void* s, void* r, size_t n, DataType t, Stream st) {
  return impl_->runOnStream(op(K::kAllToAll, s, r, n, t), st);
}
Status Communicator::send(const void* b, size_t n, DataType t, int peer, Stream st) {
  return impl_->runOnStream(op(K::kSend, b, nullptr, n, t, ReduceOp::kSum, 0, peer), st);
}
Status Communicator::recv(void* b, size_t n, DataType t, int peer, Stream st) {
  return impl_->runOnStream(op(K::kRecv, nullptr, b, n, t, ReduceOp::kSum, 0, peer), st);
}
Result<void*> Communicator::registerBuffer(void* buffer, size_t bytes) {
  return impl_->registerBuffer(buffer, bytes);
}
Status Communicator::deregisterBuffer(void* handle) { return impl_->deregisterBuffer(handle); }

Work Communicator::allReduceAsync(const void* s, void* r, size_t n, DataType t, ReduceOp o) {
  return impl_->runAsync(op(K::kAllReduce, s, r, n, t, o));
}
Work Communicator::reduceScatterAsync(const void* s, void* r, size_t n, DataType t, ReduceOp o) {
  return impl_->runAsync(op(K::kReduceScatter, s, r, n, t, o));
}
Work Communicator::allGatherAsync(const void* s, void* r, size_t n, DataType t) {
  return impl_->runAsync(op(K::kAllGather, s, r, n, t));
}
Work Communicator::broadcastAsync(const void* s, void* r, size_t n, DataType t, int root) {
  return impl_->runAsync(op(K::kBroadcast, s, r, n, t, ReduceOp::kSum, root));
}
Work Communicator::reduceAsync(const void* s, void* r, size_t n, DataType t, ReduceOp o, int root) {
  return impl_->runAsync(op(K::kReduce, s, r, n, t, o, root));
}
Work Communicator::allToAllAsync(const void* s, void* r, size_t n, DataType t) {
  return impl_->runAsync(op(K::kAllToAll, s, r, n, t));
}
Work Communicator::barrierAsync() {
  return impl_->runAsync(op(K::kBarrier, nullptr, nullptr, 0, DataType::kUint8));
}
Work Communicator::sendAsync(const void* b, size_t n, DataType t, int peer) {
  return impl_->runAsync(op(K::kSend, b, nullptr, n, t, ReduceOp::kSum, 0, peer));
}
Work Communicator::recvAsync(void* b, size_t n, DataType t, int peer) {
  return impl_->runAsync(op(K::kRecv, nullptr, b, n, t, ReduceOp::kSum, 0, peer));
}

const char* versionString() { return BRAID_VERSION " (" BRAID_GIT_COMMIT ")"; }

BuildFeatures buildFeatures() {
  return BuildFeatures{BRAID_HAVE_CUDA != 0, BRAID_HAVE_UCX != 0, BRAID_HAVE_IBVERBS != 0, true};
}

}  // namespace braid

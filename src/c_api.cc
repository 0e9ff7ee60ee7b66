// The C API: a thin, exception-free layer over braid::Communicator. Status codes map one to one
// onto braidResult_t; the message of the last failure is kept per thread.
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "braid/braid.h"
#include "braid/communicator.h"
#include "gpu.h"
#include "params.h"
#include "topology.h"
#include "util/socket.h"

struct braidComm {
  std::unique_ptr<braid::Communicator> comm;
};

namespace {

using braid::DataType;
using braid::ReduceOp;
using braid::Status;

thread_local std::string lastError;

braidResult_t fromStatus(const Status& s) {
  if (s.isOk()) return braidSuccess;
  lastError = s.toString();
  return static_cast<braidResult_t>(s.code());
}

braidResult_t invalid(const std::string& message) {
  return fromStatus(braid::invalidArgument(message));
}

constexpr uint32_t kIdMagic = 0x62496431;  // "bId1"
struct IdLayout {
  uint32_t magic;
  uint16_t port;
  uint16_t reserved;
  uint64_t token;
  char host[64];
};
static_assert(sizeof(IdLayout) <= BRAID_UNIQUE_ID_BYTES);

// Stores served for unique ids live until the process exits.
std::mutex serversMu;
std::vector<std::unique_ptr<braid::TcpStoreServer>>& servers() {
  static auto* s = new std::vector<std::unique_ptr<braid::TcpStoreServer>>();
  return *s;
}

#define BRAID_CHECK_COMM(comm) \
  if ((comm) == nullptr || (comm)->comm == nullptr) return invalid("comm is NULL")

}  // namespace

extern "C" {

braidResult_t braidGetVersion(int* version) {
  if (version == nullptr) return invalid("version is NULL");
  *version = BRAID_VERSION_CODE;
  return braidSuccess;
}

const char* braidGetErrorString(braidResult_t result) {
  return braid::toString(static_cast<braid::StatusCode>(result));
}

const char* braidGetLastError(braidComm_t) { return lastError.c_str(); }

braidResult_t braidGetUniqueId(braidUniqueId* uniqueId) {
  if (uniqueId == nullptr) return invalid("uniqueId is NULL");
  uint64_t token = braid::net::randomU64();
  auto server = braid::startTcpStoreServer("0.0.0.0", 0, token);
  if (!server.isOk()) return fromStatus(server.status());
  IdLayout id{};
  id.magic = kIdMagic;
  id.port = (*server)->port();
  id.token = token;
  std::string host =
      braid::params().socketAddr.empty() ? braid::advertisedAddress() : braid::params().socketAddr;
  std::strncpy(id.host, host.c_str(), sizeof(id.host) - 1);
  {
    std::lock_guard<std::mutex> lock(serversMu);
    servers().push_back(std::move(*server));
  }
  std::memset(uniqueId, 0, sizeof(*uniqueId));
  std::memcpy(uniqueId->internal, &id, sizeof(id));
  return braidSuccess;
}

braidResult_t braidCommInitRank(braidComm_t* comm, int nranks, braidUniqueId commId, int rank) {
  if (comm == nullptr) return invalid("comm is NULL");
  *comm = nullptr;
  IdLayout id;
  std::memcpy(&id, commId.internal, sizeof(id));
  if (id.magic != kIdMagic) return invalid("commId was not made by braidGetUniqueId");
  id.host[sizeof(id.host) - 1] = '\0';
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(braid::params().timeoutSec * 1000));
  auto store = braid::connectTcpStore(id.host, id.port, id.token, timeout);
  if (!store.isOk()) return fromStatus(store.status());
  braid::CommOptions options;
  options.store = *store;
  options.rank = rank;
  options.size = nranks;
  auto c = braid::Communicator::create(options);
  if (!c.isOk()) return fromStatus(c.status());
  *comm = new braidComm{std::move(*c)};
  return braidSuccess;
}

braidResult_t braidCommInitFromEnv(braidComm_t* comm) {
  if (comm == nullptr) return invalid("comm is NULL");
  *comm = nullptr;
  auto c = braid::Communicator::fromEnvironment();
  if (!c.isOk()) return fromStatus(c.status());
  *comm = new braidComm{std::move(*c)};
  return braidSuccess;
}

braidResult_t braidCommSplit(braidComm_t comm, int color, int key, braidComm_t* newcomm) {
  BRAID_CHECK_COMM(comm);
  if (newcomm == nullptr) return invalid("newcomm is NULL");
  *newcomm = nullptr;
  auto c = comm->comm->split(color, key);
  if (!c.isOk()) return fromStatus(c.status());
  if (*c != nullptr) *newcomm = new braidComm{std::move(*c)};
  return braidSuccess;
}

braidResult_t braidCommDestroy(braidComm_t comm) {
  delete comm;
  return braidSuccess;
}

braidResult_t braidCommAbort(braidComm_t comm) {
  if (comm == nullptr) return braidSuccess;
  if (comm->comm) comm->comm->abort();
  delete comm;
  return braidSuccess;
}

braidResult_t braidCommGetAsyncError(braidComm_t comm, braidResult_t* asyncError) {
  BRAID_CHECK_COMM(comm);
  if (asyncError == nullptr) return invalid("asyncError is NULL");
  Status s = comm->comm->asyncError();
  *asyncError = static_cast<braidResult_t>(s.code());
  return braidSuccess;
}

braidResult_t braidCommCount(const braidComm_t comm, int* count) {
  BRAID_CHECK_COMM(comm);
  if (count == nullptr) return invalid("count is NULL");
  *count = comm->comm->size();
  return braidSuccess;
}

braidResult_t braidCommUserRank(const braidComm_t comm, int* rank) {
  BRAID_CHECK_COMM(comm);
  if (rank == nullptr) return invalid("rank is NULL");
  *rank = comm->comm->rank();
  return braidSuccess;
}

braidResult_t braidAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                             braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                             braidStream_t stream) {
  BRAID_CHECK_COMM(comm);
  return fromStatus(
      comm->comm->allReduce(sendbuff, recvbuff, count, DataType(datatype), ReduceOp(op), stream));
}

braidResult_t braidReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                 braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                                 braidStream_t stream) {
  BRAID_CHECK_COMM(comm);
  return fromStatus(comm->comm->reduceScatter(sendbuff, recvbuff, recvcount, DataType(datatype),
                                              ReduceOp(op), stream));
}

braidResult_t braidAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                             braidDataType_t datatype, braidComm_t comm, braidStream_t stream) {
  BRAID_CHECK_COMM(comm);
  return fromStatus(
      comm->comm->allGather(sendbuff, recvbuff, sendcount, DataType(datatype), stream));
}

braidResult_t braidBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                             braidDataType_t datatype, int root, braidComm_t comm,
                             braidStream_t stream) {
  BRAID_CHECK_COMM(comm);
  return fromStatus(
      comm->comm->broadcast(sendbuff, recvbuff, count, DataType(datatype), root, stream));
}

braidResult_t braidReduce(const void* sendbuff, void* recvbuff, size_t count,
                          braidDataType_t datatype, braidRedOp_t op, int root, braidComm_t comm,
                          braidStream_t stream) {
  BRAID_CHECK_COMM(comm);
  return fromStatus(comm->comm->reduce(sendbuff, recvbuff, count, DataType(datatype), ReduceOp(op),
                                       root, stream));
}

braidResult_t braidAllToAll(const void* sendbuff, void* recvbuff, size_t count,
                            braidDataType_t datatype, braidComm_t comm, braidStream_t stream) {
  BRAID_CHECK_COMM(comm);
  return fromStatus(comm->comm->allToAll(sendbuff, recvbuff, count, DataType(datatype), stream));
}

braidResult_t braidSend(const void* sendbuff, size_t count, braidDataType_t datatype, int peer,
                        braidComm_t comm, braidStream_t stream) {
  BRAID_CHECK_COMM(comm);
  return fromStatus(comm->comm->send(sendbuff, count, DataType(datatype), peer, stream));
}

braidResult_t braidRecv(void* recvbuff, size_t count, braidDataType_t datatype, int peer,
                        braidComm_t comm, braidStream_t stream) {
  BRAID_CHECK_COMM(comm);
  return fromStatus(comm->comm->recv(recvbuff, count, DataType(datatype), peer, stream));
}

braidResult_t braidBarrier(braidComm_t comm, braidStream_t stream) {
  BRAID_CHECK_COMM(comm);
  Status synced = braid::gpu::synchronize(stream);
  if (!synced.isOk()) return fromStatus(synced);
  return fromStatus(comm->comm->barrier());
}

braidResult_t braidGroupStart(void) { return fromStatus(braid::groupStart()); }
braidResult_t braidGroupEnd(void) { return fromStatus(braid::groupEnd()); }

braidResult_t braidCommRegister(braidComm_t comm, void* buff, size_t size, void** handle) {
  BRAID_CHECK_COMM(comm);
  if (handle == nullptr) return invalid("handle is NULL");
  *handle = nullptr;
  auto h = comm->comm->registerBuffer(buff, size);
  if (!h.isOk()) return fromStatus(h.status());
  *handle = *h;
  return braidSuccess;
}

braidResult_t braidCommDeregister(braidComm_t comm, void* handle) {
  BRAID_CHECK_COMM(comm);
  return fromStatus(comm->comm->deregisterBuffer(handle));
}

}  // extern "C"

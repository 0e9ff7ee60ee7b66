/* braid C API: names and argument order parallel NCCL's, so that a program can switch between
 * the two by renaming (ncclAllReduce -> braidAllReduce, ncclComm_t -> braidComm_t, ...).
 * Every function returns a braidResult_t; braidGetLastError() gives the message of the last
 * failure on the calling thread. No function exits the process or throws.
 *
 * Buffers and streams (as in braid/communicator.h):
 *  - device buffers (cudaMalloc'd) with a stream (cudaStream_t, NULL = the legacy default
 *    stream): the call enqueues the operation on the stream and returns; it can be captured in
 *    a CUDA graph. Errors that happen on the device are returned by the next call and by
 *    braidCommGetAsyncError.
 *  - host buffers: the stream, if any, is synchronized first; the call blocks until the
 *    operation completed on this rank. A build without CUDA accepts only stream = NULL. */
#ifndef BRAID_BRAID_H_
#define BRAID_BRAID_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BRAID_MAJOR 0
#define BRAID_MINOR 1
#define BRAID_PATCH 0
#define BRAID_VERSION_CODE (BRAID_MAJOR * 10000 + BRAID_MINOR * 100 + BRAID_PATCH)

typedef enum {
  braidSuccess = 0,
  braidInvalidArgument = 1,
  braidRemoteError = 2,
  braidTimeout = 3,
  braidAborted = 4,
  braidSystemError = 5,
  braidUnsupported = 6,
  braidInternalError = 7,
} braidResult_t;

typedef enum {
  braidInt8 = 0,
  braidChar = 0,
  braidUint8 = 1,
  braidInt32 = 2,
  braidInt = 2,
  braidUint32 = 3,
  braidInt64 = 4,
  braidUint64 = 5,
  braidFloat16 = 6,
  braidHalf = 6,
  braidBfloat16 = 7,
  braidFloat32 = 8,
  braidFloat = 8,
  braidFloat64 = 9,
  braidDouble = 9,
  braidNumTypes = 10,
} braidDataType_t;

typedef enum {
  braidSum = 0,
  braidProd = 1,
  braidMin = 2,
  braidMax = 3,
  braidAvg = 4,
  braidNumOps = 5,
} braidRedOp_t;

typedef struct braidComm* braidComm_t;
typedef void* braidStream_t; /* a cudaStream_t; NULL = the default stream */

#define BRAID_UNIQUE_ID_BYTES 128
typedef struct {
  char internal[BRAID_UNIQUE_ID_BYTES];
} braidUniqueId;

braidResult_t braidGetVersion(int* version);
const char* braidGetErrorString(braidResult_t result);
/* The message of the last failed braid call on this thread ("" if none). */
const char* braidGetLastError(braidComm_t comm);

/* Rank 0 (or any one process) creates the id, serves the rendezvous for it, and shares it with
 * the other ranks by any means (MPI_Bcast, a file, ...). */
braidResult_t braidGetUniqueId(braidUniqueId* uniqueId);
braidResult_t braidCommInitRank(braidComm_t* comm, int nranks, braidUniqueId commId, int rank);
/* From the launcher environment: braid-run, torchrun, Open MPI (mpirun) or Slurm (srun). */
braidResult_t braidCommInitFromEnv(braidComm_t* comm);
braidResult_t braidCommSplit(braidComm_t comm, int color, int key, braidComm_t* newcomm);
braidResult_t braidCommDestroy(braidComm_t comm);
braidResult_t braidCommAbort(braidComm_t comm);
braidResult_t braidCommGetAsyncError(braidComm_t comm, braidResult_t* asyncError);
braidResult_t braidCommCount(const braidComm_t comm, int* count);
braidResult_t braidCommUserRank(const braidComm_t comm, int* rank);

braidResult_t braidAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                             braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                             braidStream_t stream);
braidResult_t braidReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                 braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                                 braidStream_t stream);
braidResult_t braidAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                             braidDataType_t datatype, braidComm_t comm, braidStream_t stream);
braidResult_t braidBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                             braidDataType_t datatype, int root, braidComm_t comm,
                             braidStream_t stream);
braidResult_t braidReduce(const void* sendbuff, void* recvbuff, size_t count,
                          braidDataType_t datatype, braidRedOp_t op, int root, braidComm_t comm,
                          braidStream_t stream);
braidResult_t braidAllToAll(const void* sendbuff, void* recvbuff, size_t count,
                            braidDataType_t datatype, braidComm_t comm, braidStream_t stream);
braidResult_t braidSend(const void* sendbuff, size_t count, braidDataType_t datatype, int peer,
                        braidComm_t comm, braidStream_t stream);
braidResult_t braidRecv(void* recvbuff, size_t count, braidDataType_t datatype, int peer,
                        braidComm_t comm, braidStream_t stream);
braidResult_t braidBarrier(braidComm_t comm, braidStream_t stream);

/* Groups, per thread and nestable: calls between braidGroupStart and the outermost
 * braidGroupEnd are recorded and issued by braidGroupEnd (GPU sends and receives of one
 * communicator and stream in one kernel launch). braidGroupEnd returns the first error. */
braidResult_t braidGroupStart(void);
braidResult_t braidGroupEnd(void);

/* Registers a device buffer with the communicator's peers (collective: every rank calls it in
 * the same order, with its own buffer): every rank maps every rank's buffer. GPU allReduce,
 * reduceScatter and allGather of at least BRAID_GPU_DIRECT_BYTES whose buffers lie in
 * registered buffers then read and write the peers' buffers in place, without staging. Such
 * calls must use the same offset in the registered buffer on every rank (symmetric memory, as
 * NCCL's windows); a call that does not fails on every rank with braidInvalidArgument
 * (reported by the next call and braidCommGetAsyncError, as GPU failures are). A call where
 * some ranks pass registered buffers and others do not is not detected early: it fails with
 * braidTimeout after BRAID_TIMEOUT seconds. Memory
 * that CUDA IPC cannot export (e.g. from cudaMallocAsync pools) is refused on every rank. */
braidResult_t braidCommRegister(braidComm_t comm, void* buff, size_t size, void** handle);
braidResult_t braidCommDeregister(braidComm_t comm, void* handle);

#ifdef __cplusplus
}
#endif

#endif /* BRAID_BRAID_H_ */

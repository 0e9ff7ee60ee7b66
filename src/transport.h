// The contract between algorithms and fabrics. An algorithm posts Requests (send, receive,
// receive-and-reduce) to per-peer Connections; the communicator drives every Transport's
// progress until they complete. Transports never know which collective they serve; algorithms
// never include a concrete transport.
//
// Ordering: the requests posted to one Connection in one direction complete in post order, and
// the n-th send posted on rank A to B matches the n-th receive posted on B from A. Each message
// carries (kind, seq, bytes); a receiver whose expectation differs fails with RemoteError
// instead of consuming the bytes, so ranks that disagree never corrupt each other's data.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "braid/status.h"
#include "braid/store.h"
#include "reducer.h"

namespace braid {

using Clock = std::chrono::steady_clock;

enum class MsgKind : uint8_t {
  kData = 1,         // payload of a collective or point-to-point operation
  kFingerprint = 2,  // a collective's fingerprint, exchanged with ring neighbours
};

// One posted operation. Owned by the caller, which keeps it alive (and does not move it)
// until it completes or the communicator is torn down.
struct Request {
  enum class Type : uint8_t { kSend, kRecv };

  Type type = Type::kSend;
  int peer = -1;
  MsgKind kind = MsgKind::kData;
  uint64_t seq = 0;  // sequence number of the operation this message belongs to
  size_t bytes = 0;

  // kSend: bytes are read from src. If after != nullptr, only the first after->done bytes of
  // src are ready (after is a receive that is writing them); the rest wait for it.
  const uint8_t* src = nullptr;
  const Request* after = nullptr;

  // kRecv: bytes land in dst. With reduce set: dst = reduce(local, incoming) elementwise,
  // elemSize bytes per element (local may equal dst).
  uint8_t* dst = nullptr;
  const uint8_t* local = nullptr;
  ReduceFn reduce = nullptr;
  size_t elemSize = 1;

  // Progress, written by the transport only.
  size_t done = 0;       // payload bytes sent / received (and reduced) so far
  bool started = false;  // the message's first fragment went out / came in
  bool complete = false;

  bool isSend() const { return type == Type::kSend; }
  // Bytes of src a send may read now.
  size_t readyBytes() const {
    if (after == nullptr) return bytes;
    return after->done < bytes ? after->done : bytes;
  }
};

class Transport;

// One peer as seen through one transport.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual int peer() const = 0;
  // Queue a request. It makes progress in Transport::progress().
  virtual void post(Request* request) = 0;
  // Whether requests are queued and not complete.
  virtual bool busy() const = 0;
};

// Memory that every rank of a host group maps (the shm transport's windows), for algorithms
// that do better reading peers' data in place than exchanging messages: one-shot and two-shot
// reductions. Each rank owns a window of two halves (double buffering across rounds), each with
// a staging area and a result area of windowBytes(), and a few monotonically increasing
// counters that peers wait on.
class SharedArena {
 public:
  virtual ~SharedArena() = default;
  virtual int groupSize() const = 0;
  // Position of a communicator rank in the group (-1 if not in it) and back.
  virtual int groupIndex(int rank) const = 0;
  virtual int rankOf(int member) const = 0;
  virtual size_t windowBytes() const = 0;
  // Staging and result areas of member m's window half h (0 or 1).
  virtual uint8_t* staging(int member, int half) = 0;
  virtual uint8_t* result(int member, int half) = 0;
  // A 64-bit tag member m stored with half h (the fingerprint hash of what it staged).
  virtual std::atomic<uint64_t>& tag(int member, int half) = 0;
  // Counter c (0..3) of member m. Only m writes its own counters.
  virtual std::atomic<uint64_t>& counter(int member, int c) = 0;
  // Rounds this rank has run in the arena so far (same on every member: every rank runs the
  // same collectives in the same order). Algorithms number their rounds from here.
  virtual uint64_t& nextRound() = 0;
  // Wakes every member that may be waiting on a counter.
  virtual void notifyAll() = 0;
  // Waits until every member's counter c is >= value. Spins briefly, then blocks; fails on the
  // deadline, on a peer's reported error, on a dead peer, or when *aborted becomes true.
  virtual Status waitAll(int c, uint64_t value, Clock::time_point deadline,
                         const std::atomic<bool>* aborted) = 0;
};

// A fabric's factory and progress engine for the connections of one communicator.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;
  virtual Connection* connection(int peer) = 0;

  // Moves what it can without blocking. Sets *progressed if any byte moved. A non-OK status
  // (peer died, peer reported an error, message mismatch) fails the running operation.
  virtual Status progress(bool* progressed) = 0;
  // Blocks until something may have happened or `until` passes. Returns non-OK like progress.
  // Also returns non-OK when a peer with queued requests is found dead.
  virtual Status block(Clock::time_point until) = 0;
  // Makes a concurrent or future block() return promptly (from any thread).
  virtual void wakeup() = 0;
  // Best effort: tell every peer that this rank failed, with a reason, so that their pending
  // and future operations fail with RemoteError carrying it. Never blocks for long.
  virtual void notifyError(const std::string& reason) = 0;
  // Shared memory all peers of this transport can read and write, if the fabric has it.
  virtual SharedArena* arena() { return nullptr; }
};

// What a transport factory needs to connect one communicator's peers.
struct TransportSetup {
  int rank = 0;
  int size = 0;
  std::vector<int> peers;        // ranks this transport must connect to (never rank itself)
  std::shared_ptr<Store> store;  // this communicator's key space; transports use "<name>/..."
  uint64_t token = 0;            // job token: every connection must present it
  uint64_t commId = 0;           // unique per communicator (same on every rank)
  Clock::time_point deadline;    // for the whole setup
  std::string advertiseAddress;  // TCP: the IP address peers should dial (never empty)
  int socketsPerPeer = 0;        // TCP: sockets per peer; 0 = BRAID_TCP_SOCKETS
  int socketBufferBytes = 0;     // TCP: SO_SNDBUF / SO_RCVBUF; 0 = the kernel's autotuning
};

}  // namespace braid

// The shared-memory transport's copy path, two ranks as two threads of one process, to tune
// BRAID_SHM_SLOT_BYTES / BRAID_SHM_SLOTS against the single-thread memcpy it is built from.
//
//   braid-micro --benchmark_filter=Shm
//
// Shm/Stream: rank 0 (the benchmark thread) sends one message per iteration to rank 1 (a helper
//   thread that keeps receives posted ahead); bytes/s is the one-way bandwidth. A send completes
//   once its last fragment is in a slot, so the pipeline stays full across iterations; the
//   last iteration also waits for rank 1 to take in everything, so the total is end to end.
// Shm/RecvReduce: the same with receive-and-reduce (fp32 sum, in place) on rank 1.
// Shm/PingPong: 8 bytes there and back per iteration (rank 1 forwards its receive with
//   Request::after); the time per iteration is one round trip.
// Shm/Memcpy: one thread's memcpy of the same sizes, the reference for Stream.
//
// Arguments: bytes, slot (BRAID_SHM_SLOT_BYTES), slots (BRAID_SHM_SLOTS) and spin_us: how long
// both drive loops poll after the last progress before they block in the transport (0 = block
// at once; 30 = the communicator's default BRAID_SPIN_US; -1 = never block).
#include <benchmark/benchmark.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "braid/store.h"
#include "params.h"
#include "reducer.h"
#include "shm/transport.h"

namespace braid {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;
constexpr int64_t kSizes[] = {64 * kKiB, kMiB, 16 * kMiB, 256 * kMiB};
constexpr int64_t kSlotSizes[] = {64 * kKiB, 256 * kKiB, kMiB};
constexpr int64_t kDefaultSlots = 4;
constexpr int64_t kDefaultSlot = 256 * kKiB;
constexpr size_t kPosted = 2;             // messages rank 1 keeps posted ahead of rank 0
constexpr auto kStallLimit = 10s;         // a drive loop without progress this long fails
constexpr auto kBlockSlice = 1ms;         // one block() call
constexpr uint8_t kPattern = 0x3C;        // fp32 ~0.0115: sums never reach inf or NaN
constexpr uint64_t kSeqBase = 1'000'000;  // any value; both ranks count up from it

// A page-aligned buffer with every page touched before timing.
class Buffer {
 public:
  Buffer(size_t bytes, uint8_t fill)
      : data_(static_cast<uint8_t*>(std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096))) {
    std::memset(data_, fill, (bytes + 4095) / 4096 * 4096);
  }
  ~Buffer() { std::free(data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  uint8_t* data() const { return data_; }

 private:
  uint8_t* data_;
};

enum class Mode { kStream, kReduce, kPingPong };

// Calls progress() until done() or an error; after spinUs of no progress (never if < 0) it
// blocks in slices of kBlockSlice. Fails after kStallLimit without progress, or when abort()
// returns non-OK (the other rank failed).
template <typename Done, typename Abort>
Status drive(Transport* t, int64_t spinUs, Done done, Abort abort) {
  Clock::time_point lastProgress = Clock::now();
  int idleRounds = 0;
  while (!done()) {
    bool progressed = false;
    BRAID_RETURN_IF_ERROR(t->progress(&progressed));
    if (progressed) {
      lastProgress = Clock::now();
      idleRounds = 0;
      continue;
    }
    BRAID_RETURN_IF_ERROR(abort());
    const Clock::time_point now = Clock::now();
    if (spinUs < 0 || now - lastProgress < std::chrono::microseconds(spinUs)) {
      if (++idleRounds % 16 == 0) sched_yield();  // two ranks may share one core
      continue;
    }
    if (now - lastProgress > kStallLimit) return timeoutError("shm benchmark stalled");
    BRAID_RETURN_IF_ERROR(t->block(now + kBlockSlice));
  }
  return Status();
}

// Rank 0's and rank 1's transports, and rank 1's helper thread.
class ShmPair {
 public:
  ShmPair(Mode mode, size_t bytes, int64_t spinUs) : mode_(mode), bytes_(bytes), spinUs_(spinUs) {}
  ~ShmPair() { stop(); }
  ShmPair(const ShmPair&) = delete;
  ShmPair& operator=(const ShmPair&) = delete;

  // Creates both transports with the given slot parameters and starts rank 1.
  Status start(int64_t slotBytes, int64_t slots) {
    setenv("BRAID_SHM_SLOT_BYTES", std::to_string(slotBytes).c_str(), 1);
    setenv("BRAID_SHM_SLOTS", std::to_string(slots).c_str(), 1);
    reloadParams();
    static std::atomic<uint64_t> counter{0};
    const uint64_t commId = (static_cast<uint64_t>(getpid()) << 24) + counter.fetch_add(1);
    auto store = makeHashStore();
    Status status1;
    std::thread other([&] { status1 = create(1, store, commId, &t1_); });
    Status status0 = create(0, store, commId, &t0_);
    other.join();
    unsetenv("BRAID_SHM_SLOT_BYTES");
    unsetenv("BRAID_SHM_SLOTS");
    reloadParams();
    BRAID_RETURN_IF_ERROR(status0);
    BRAID_RETURN_IF_ERROR(status1);
    rank1Buffer_ = std::make_unique<Buffer>(bytes_, kPattern);
    helper_ = std::thread([this] { rank1(); });
    return Status();
  }

  // Stops rank 1 (it abandons its posted receives) and closes both transports.
  void stop() {
    stop_.store(true, std::memory_order_release);
    if (t1_ != nullptr) t1_->wakeup();
    if (helper_.joinable()) helper_.join();
    t1_.reset();
    t0_.reset();
  }

  Transport* rank0() const { return t0_.get(); }
  // Messages rank 1 has fully received (and, in ping-pong, sent back).
  uint64_t received() const { return received_.load(std::memory_order_acquire); }
  int64_t spinUs() const { return spinUs_; }
  // Non-OK once rank 1 has failed.
  Status rank1Status() const {
    return failed_.load(std::memory_order_acquire) ? rank1Error_ : Status();
  }

 private:
  // One message rank 1 expects (and, in ping-pong, sends back). Lives in a deque: never moves.
  struct Posted {
    Request recv;
    Request echo;
    uint8_t data[8] = {};
  };

  static Status create(int rank, const std::shared_ptr<Store>& store, uint64_t commId,
                       std::unique_ptr<Transport>* out) {
    TransportSetup s;
    s.rank = rank;
    s.size = 2;
    s.peers = {1 - rank};
    s.store = store;
    s.token = 0x5eed;
    s.commId = commId;
    s.deadline = Clock::now() + 10s;
    auto t = createShmTransport(s);
    if (!t.isOk()) return t.status();
    *out = std::move(t.value());
    return Status();
  }

  void post(std::deque<Posted>& posted, uint64_t seq, ReduceFn sum) {
    Posted& p = posted.emplace_back();
    p.recv.type = Request::Type::kRecv;
    p.recv.peer = 0;
    p.recv.kind = MsgKind::kData;
    p.recv.seq = seq;
    p.recv.bytes = bytes_;
    if (mode_ == Mode::kPingPong) {
      p.recv.dst = p.data;
      p.echo.type = Request::Type::kSend;
      p.echo.peer = 0;
      p.echo.kind = MsgKind::kData;
      p.echo.seq = seq;
      p.echo.bytes = bytes_;
      p.echo.src = p.data;
      p.echo.after = &p.recv;  // forwarded as soon as it lands
    } else {
      p.recv.dst = rank1Buffer_->data();
      if (mode_ == Mode::kReduce) {
        p.recv.local = rank1Buffer_->data();
        p.recv.reduce = sum;
        p.recv.elemSize = sizeof(float);
      }
    }
    Connection* c = t1_->connection(0);
    c->post(&p.recv);
    if (mode_ == Mode::kPingPong) c->post(&p.echo);
  }

  bool finished(const Posted& p) const {
    return p.recv.complete && (mode_ != Mode::kPingPong || p.echo.complete);
  }

  // Keeps kPosted messages posted and drives them until told to stop.
  void rank1() {
    const ReduceFn sum = reduceFunction(DataType::kFloat32, ReduceOp::kSum);
    std::deque<Posted> posted;
    uint64_t seq = kSeqBase;
    auto refill = [&] {
      while (!posted.empty() && finished(posted.front())) {
        posted.pop_front();
        received_.fetch_add(1, std::memory_order_release);
      }
      while (posted.size() < kPosted) post(posted, seq++, sum);
      return stop_.load(std::memory_order_acquire);
    };
    while (!refill()) {
      // Returns as soon as the front message is done, so that the next one gets posted.
      const Posted* front = &posted.front();
      Status s = drive(
          t1_.get(), spinUs_,
          [&] { return finished(*front) || stop_.load(std::memory_order_acquire); },
          [] { return Status(); });
      // A stall here is only rank 0 being between runs or done; wait on.
      if (!s.isOk() && s.code() != StatusCode::kTimeout) {
        rank1Error_ = s;
        failed_.store(true, std::memory_order_release);
        t0_->wakeup();
        return;
      }
    }
  }

  const Mode mode_;
  const size_t bytes_;
  const int64_t spinUs_;
  std::unique_ptr<Transport> t0_;
  std::unique_ptr<Transport> t1_;
  std::unique_ptr<Buffer> rank1Buffer_;
  std::thread helper_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> received_{0};
  Status rank1Error_;
};

Request rank0Request(Request::Type type, uint64_t seq, size_t bytes) {
  Request r;
  r.type = type;
  r.peer = 1;
  r.kind = MsgKind::kData;
  r.seq = seq;
  r.bytes = bytes;
  return r;
}

void BM_ShmTransfer(benchmark::State& state, Mode mode) {
  const auto bytes = static_cast<size_t>(state.range(0));
  Buffer src(bytes, kPattern);
  Buffer back(bytes, 0);
  ShmPair pair(mode, bytes, state.range(3));
  Status status = pair.start(state.range(1), state.range(2));
  if (!status.isOk()) {
    state.SkipWithError(status.toString().c_str());
    return;
  }
  Transport* t = pair.rank0();
  Connection* c = t->connection(1);
  // Outlive the loop: after an error the transport may still hold pointers to them.
  Request send;
  Request recv;
  uint64_t seq = kSeqBase;
  int64_t sent = 0;
  for (auto _ : state) {
    send = rank0Request(Request::Type::kSend, seq, bytes);
    send.src = src.data();
    c->post(&send);
    if (mode == Mode::kPingPong) {
      recv = rank0Request(Request::Type::kRecv, seq, bytes);
      recv.dst = back.data();
      c->post(&recv);
    }
    ++seq;
    // The last iteration also waits for rank 1 to take in everything, so that the time covers
    // every byte end to end, not only the copies into the slots.
    const bool last = ++sent == state.max_iterations;
    status = drive(
        t, pair.spinUs(),
        [&] {
          return send.complete && (mode != Mode::kPingPong || recv.complete) &&
                 (!last || pair.received() == static_cast<uint64_t>(sent));
        },
        [&] { return pair.rank1Status(); });
    if (!status.isOk()) {
      state.SkipWithError(status.toString().c_str());
      break;
    }
  }
  if (status.isOk() && pair.received() != static_cast<uint64_t>(sent)) {
    state.SkipWithError("rank 1 did not receive every message");
  }
  pair.stop();
  if (mode != Mode::kPingPong) {
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
  }
}

void BM_Memcpy(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  Buffer src(bytes, kPattern);
  Buffer dst(bytes, 0);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

int registerAll() {
  for (const char* name : {"Shm/Stream", "Shm/RecvReduce"}) {
    const Mode mode = std::string(name) == "Shm/Stream" ? Mode::kStream : Mode::kReduce;
    auto* b = benchmark::RegisterBenchmark(name, BM_ShmTransfer, mode);
    b->ArgNames({"bytes", "slot", "slots", "spin_us"});
    // spin_us 0: block as soon as nothing moves; 30: the communicator's default wait.
    for (int64_t spin : {0, 30}) {
      for (int64_t slot : kSlotSizes) {
        for (int64_t bytes : kSizes) b->Args({bytes, slot, kDefaultSlots, spin});
      }
    }
    // Small slots with the default's ring footprint (16 x 64 KiB = 4 x 256 KiB): separates
    // the per-fragment cost from the bytes in flight.
    for (int64_t bytes : kSizes) b->Args({bytes, 64 * kKiB, 16, 30});
    b->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  auto* ping = benchmark::RegisterBenchmark("Shm/PingPong", BM_ShmTransfer, Mode::kPingPong);
  ping->ArgNames({"bytes", "slot", "slots", "spin_us"});
  for (int64_t spin : {0, 30, -1}) ping->Args({8, kDefaultSlot, kDefaultSlots, spin});
  ping->Unit(benchmark::kMicrosecond)->UseRealTime();

  auto* copy = benchmark::RegisterBenchmark("Shm/Memcpy", BM_Memcpy);
  copy->ArgNames({"bytes"});
  for (int64_t bytes : kSizes) copy->Arg(bytes);
  copy->Unit(benchmark::kMillisecond)->UseRealTime();
  return 0;
}

const int registered = registerAll();

}  // namespace
}  // namespace braid

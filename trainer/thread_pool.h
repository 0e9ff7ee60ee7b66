// The threads a model computes with. Work is fork-join: the caller splits a loop into contiguous
// parts, runs the first itself and the workers the rest. Between jobs a worker spins briefly
// (the layers of one step follow each other within microseconds), then sleeps on a futex, so an
// idle or oversubscribed pool costs no CPU: on a 2-core machine shared by many processes,
// OpenMP's default spinning made a small run 50x slower than its CPU time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

namespace braid::train {

class ThreadPool {
 public:
  // `threads` in all, the caller included (threads - 1 workers are started).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls body(begin, end) on min(parts, size()) contiguous, near-equal pieces of [0, n) and
  // returns when all are done; piece i always goes to thread i, the caller taking piece 0.
  // One caller at a time.
  template <typename F>
  void parallelFor(int64_t n, int parts, F&& body) {
    parts = parts < size() ? parts : size();
    if (n <= 0) return;
    if (parts <= 1 || n == 1) {
      body(int64_t{0}, n);
      return;
    }
    run(
        n, parts,
        [](void* ctx, int64_t b, int64_t e) {
          (*static_cast<std::remove_reference_t<F>*>(ctx))(b, e);
        },
        &body);
  }

 private:
  using Call = void (*)(void* ctx, int64_t begin, int64_t end);
  void run(int64_t n, int parts, Call call, void* ctx);
  // One worker's mailbox: the caller fills in a piece, then bumps `ticket`. Only the workers a
  // job needs are woken, and a worker reads its slot only between a bump and its reply.
  struct alignas(64) Slot {
    std::atomic<uint32_t> ticket{0};
    Call call = nullptr;
    void* ctx = nullptr;
    int64_t begin = 0, end = 0;
    bool stop = false;
  };
  void work(Slot* slot);

  std::vector<std::unique_ptr<Slot>> slots_;  // one per worker
  std::vector<std::thread> workers_;
  std::atomic<int> pending_{0};  // pieces of the current job still running on workers
};

}  // namespace braid::train

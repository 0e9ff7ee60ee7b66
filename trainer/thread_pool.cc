// ThreadPool (see thread_pool.h): spin-then-futex hand-off of fork-join jobs.
#include "thread_pool.h"

#include <sched.h>

#include <chrono>

namespace braid::train {
namespace {

// How long a waiting thread polls before it sleeps. Covers the gaps between the kernels of one
// training step; far below a scheduler time slice, so a loaded machine loses little to it.
constexpr auto kSpin = std::chrono::microseconds(100);

inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Waits until `value` no longer holds `old`: polls for kSpin (yielding now and then, so that a
// thread we wait for can run on our core), then sleeps in atomic::wait.
template <typename T>
T waitChange(const std::atomic<T>& value, T old) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 1;; ++i) {
    T now = value.load(std::memory_order_acquire);
    if (now != old) return now;
    relax();
    if (i % 64 == 0) {
      if (std::chrono::steady_clock::now() > deadline) break;
      sched_yield();
    }
  }
  for (;;) {
    value.wait(old, std::memory_order_acquire);
    T now = value.load(std::memory_order_acquire);
    if (now != old) return now;
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) slots_.push_back(std::make_unique<Slot>());
  for (auto& slot : slots_) workers_.emplace_back([this, s = slot.get()] { work(s); });
}

ThreadPool::~ThreadPool() {
  for (auto& slot : slots_) {
    slot->stop = true;
    slot->ticket.fetch_add(1, std::memory_order_release);
    slot->ticket.notify_one();
  }
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::run(int64_t n, int parts, Call call, void* ctx) {
  pending_.store(parts - 1, std::memory_order_relaxed);
  for (int i = 1; i < parts; ++i) {
    Slot& slot = *slots_[i - 1];
    slot.call = call;
    slot.ctx = ctx;
    slot.begin = n * i / parts;
    slot.end = n * (i + 1) / parts;
    slot.ticket.fetch_add(1, std::memory_order_release);
    slot.ticket.notify_one();
  }
  call(ctx, 0, n / parts);
  for (int left = pending_.load(std::memory_order_acquire); left != 0;) {
    left = waitChange(pending_, left);
  }
}

void ThreadPool::work(Slot* slot) {
  uint32_t seen = 0;
  for (;;) {
    seen = waitChange(slot->ticket, seen);
    if (slot->stop) return;
    slot->call(slot->ctx, slot->begin, slot->end);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace braid::train

// The shared state behind a braid::Work handle: completed once by the executor, waited on by
// any number of user threads.
#pragma once

#include <condition_variable>
#include <mutex>

#include "braid/status.h"

namespace braid {

class WorkState {
 public:
  void complete(Status status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = std::move(status);
      done_ = true;
    }
    cv_.notify_all();
  }
  bool done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  // Returns false on timeout.
  bool waitFor(std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    if (timeout == std::chrono::milliseconds::max()) {
      cv_.wait(lock, [&] { return done_; });
      return true;
    }
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }
  Status status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool done_ = false;
  Status status_;
};

}  // namespace braid

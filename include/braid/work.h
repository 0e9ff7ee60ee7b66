// Work: the handle of a collective running in the background on CPU buffers, so that a
// trainer can overlap gradient reduction with the rest of its backward pass.
#pragma once

#include <chrono>
#include <memory>

#include "braid/status.h"

namespace braid {

class WorkState;  // internal

class Work {
 public:
  Work() = default;
  explicit Work(std::shared_ptr<WorkState> state) : state_(std::move(state)) {}

  // True once the collective finished (successfully or not). Never blocks.
  bool test() const;
  // Blocks until the collective finishes or the timeout passes (then kTimeout; the collective
  // itself keeps running under its own deadline). A default timeout waits for completion.
  Status wait(std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) const;
  // The final status; kOk while still running.
  Status status() const;
  bool valid() const { return state_ != nullptr; }

 private:
  std::shared_ptr<WorkState> state_;
};

}  // namespace braid

// braid::Work: a thin handle over WorkState.
#include "braid/work.h"

#include "work_state.h"

namespace braid {

bool Work::test() const { return state_ == nullptr || state_->done(); }

Status Work::wait(std::chrono::milliseconds timeout) const {
  if (state_ == nullptr) return invalidArgument("wait() on an empty Work");
  if (!state_->waitFor(timeout)) {
    return timeoutError("Work::wait timed out before the operation finished");
  }
  return state_->status();
}

Status Work::status() const { return state_ == nullptr ? Status() : state_->status(); }

}  // namespace braid

// The executor: runs a communicator's operations one at a time in call order. A blocking call
// made while nothing is queued runs inline on the caller's thread (no hand-off latency); any
// other call is queued for the background thread, started on first use. After a failure the
// communicator is broken: the peers are told, and every later call fails with the same error.
#include "communicator_impl.h"
#include "logging.h"

namespace braid {

Status Communicator::Impl::asyncError() const {
  {
    std::lock_guard<std::mutex> lock(brokenMu_);
    if (!broken_.isOk()) return broken_;
  }
  // Failures on the device surface here without a call (DeviceComm is thread-safe for this).
  return gpu_ != nullptr ? gpu_->error() : Status();
}

// Called with execMu_ held (transports are not thread-safe).
void Communicator::Impl::fail(const Status& status) {
  {
    std::lock_guard<std::mutex> lock(brokenMu_);
    if (broken_.isOk()) broken_ = status;
  }
  if (peersNotified_) return;
  peersNotified_ = true;
  BRAID_LOG(kWarn, kColl, "rank {}: communicator failed: {}", rank_, status.toString());
  const std::string& reason = status.message();
  for (auto& t : transports_) t->notifyError(reason);
  if (gpu_ != nullptr) gpu_->abort(reason);
}

Status Communicator::Impl::execute(const OpDesc& d) {
  {
    std::lock_guard<std::mutex> lock(brokenMu_);
    if (!broken_.isOk()) {
      return Status(broken_.code(),
                    "communicator is unusable after an earlier error: " + broken_.message());
    }
  }
  if (aborted_.load()) return abortedError("communicator was aborted");
  Status st = (d.kind == CollectiveKind::kSend || d.kind == CollectiveKind::kRecv)
                  ? executePointToPoint(d)
                  : executeCollective(d);
  if (!st.isOk()) {
    if (aborted_.load() && st.code() != StatusCode::kAborted) {
      st = abortedError("communicator was aborted (" + st.message() + ")");
    }
    fail(st);
  }
  return st;
}

Status Communicator::Impl::run(const OpDesc& desc) {
  BRAID_RETURN_IF_ERROR(validate(desc));
  {
    std::unique_lock<std::mutex> lock(queueMu_);
    if (pending_ > 0) {
      lock.unlock();
      return runAsync(desc).wait();
    }
    ++pending_;
  }
  Status st;
  {
    std::lock_guard<std::mutex> exec(execMu_);
    st = execute(desc);
  }
  {
    std::lock_guard<std::mutex> lock(queueMu_);
    --pending_;
  }
  queueCv_.notify_all();
  return st;
}

Work Communicator::Impl::runAsync(const OpDesc& desc) {
  auto state = std::make_shared<WorkState>();
  Status invalid = validate(desc);
  if (!invalid.isOk()) {
    state->complete(invalid);
    return Work(state);
  }
  {
    std::lock_guard<std::mutex> lock(queueMu_);
    if (!worker_.joinable()) worker_ = std::thread([this] { workerLoop(); });
    ++pending_;
    queue_.push_back([this, desc, state] {
      Status st;
      {
        std::lock_guard<std::mutex> exec(execMu_);
        st = execute(desc);
      }
      state->complete(st);
    });
  }
  queueCv_.notify_all();
  return Work(state);
}

void Communicator::Impl::workerLoop() {
  setLogRank(rank_);
  std::unique_lock<std::mutex> lock(queueMu_);
  for (;;) {
    queueCv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    auto task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    task();
    lock.lock();
    --pending_;
    queueCv_.notify_all();
  }
}

void Communicator::Impl::abort() {
  aborted_.store(true);
  {
    std::lock_guard<std::mutex> lock(brokenMu_);
    if (broken_.isOk())
      broken_ = abortedError(fmt::format("rank {} aborted the communicator", rank_));
  }
  for (auto& t : transports_) t->wakeup();
  if (gpu_ != nullptr) gpu_->abort("the communicator was aborted");
  // Tell the peers. If an operation is running it notices the abort within a wake-up and
  // releases the executor; never wait long for it.
  std::unique_lock<std::mutex> exec(execMu_, std::defer_lock);
  for (int i = 0; i < 100 && !exec.try_lock(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (exec.owns_lock()) fail(abortedError(fmt::format("rank {} aborted the communicator", rank_)));
}

Communicator::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(queueMu_);
    stopping_ = true;
  }
  queueCv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

}  // namespace braid

// The in-process store: a map under a mutex, with a condition variable that wakes getters.
// Used when the ranks of a job are threads of one process (tests, single-host experiments).
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include "braid/store.h"

namespace braid {
namespace {

using Clock = std::chrono::steady_clock;

class HashStore : public Store {
 public:
  Status set(const std::string& key, const Bytes& value) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      map_[key] = value;
    }
    cv_.notify_all();
    return Status::ok();
  }

  Result<Bytes> get(const std::string& key, std::chrono::milliseconds timeout) override {
    constexpr auto kForever = std::chrono::hours(24 * 365 * 10);
    if (timeout < std::chrono::milliseconds(0)) timeout = std::chrono::milliseconds(0);
    const auto deadline = Clock::now() + std::min<Clock::duration>(timeout, kForever);
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      auto it = map_.find(key);
      if (it != map_.end()) return it->second;
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
          map_.find(key) == map_.end()) {
        return timeoutError("timed out after " + std::to_string(timeout.count()) +
                            " ms waiting for store key '" + key + "'");
      }
    }
  }

  Result<int64_t> add(const std::string& key, int64_t delta) override {
    int64_t value = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Bytes& stored = map_[key];
      if (!stored.empty()) {
        const char* begin = reinterpret_cast<const char*>(stored.data());
        const char* end = begin + stored.size();
        auto [ptr, ec] = std::from_chars(begin, end, value);
        if (ec != std::errc() || ptr != end) {
          return invalidArgument("store key '" + key + "' does not hold an integer");
        }
      }
      value += delta;
      std::string text = std::to_string(value);
      stored.assign(text.begin(), text.end());
    }
    cv_.notify_all();
    return value;
  }

  Result<bool> check(const std::vector<std::string>& keys) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& key : keys) {
      if (map_.find(key) == map_.end()) return false;
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Bytes> map_;
};

}  // namespace

std::shared_ptr<Store> makeHashStore() { return std::make_shared<HashStore>(); }

}  // namespace braid

// What every Store shares: waiting for several keys, string conveniences, and the prefix
// store that gives sub-communicators their own key space inside their parent's store.
#include "braid/store.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "store_values.h"

namespace braid {
namespace {

using Clock = std::chrono::steady_clock;

class PrefixStore : public Store {
 public:
  PrefixStore(std::shared_ptr<Store> base, std::string prefix)
      : base_(std::move(base)), prefix_(std::move(prefix)) {}

  Status set(const std::string& key, const Bytes& value) override {
    return base_->set(prefix_ + key, value);
  }
  Result<Bytes> get(const std::string& key, std::chrono::milliseconds timeout) override {
    return base_->get(prefix_ + key, timeout);
  }
  Result<int64_t> add(const std::string& key, int64_t delta) override {
    return base_->add(prefix_ + key, delta);
  }
  Result<bool> check(const std::vector<std::string>& keys) override {
    std::vector<std::string> full;
    full.reserve(keys.size());
    for (const auto& k : keys) full.push_back(prefix_ + k);
    return base_->check(full);
  }

 private:
  std::shared_ptr<Store> base_;
  std::string prefix_;
};

}  // namespace

Status Store::wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  // Saturate so that a "forever" timeout does not overflow the clock.
  constexpr auto kForever = std::chrono::hours(24 * 365 * 10);
  const auto deadline = Clock::now() + std::clamp<std::chrono::milliseconds>(
                                           timeout, std::chrono::milliseconds(0), kForever);
  for (const auto& key : keys) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    Result<Bytes> r = get(key, std::max(left, std::chrono::milliseconds(0)));
    if (!r.isOk()) return r.status();
  }
  return Status::ok();
}

Status Store::setString(const std::string& key, const std::string& value) {
  return set(key, Bytes(value.begin(), value.end()));
}

Result<std::string> Store::getString(const std::string& key, std::chrono::milliseconds timeout) {
  Result<Bytes> r = get(key, timeout);
  if (!r.isOk()) return r.status();
  const Bytes& b = r.value();
  return std::string(b.begin(), b.end());
}

Result<Objection> vote(Store& store, const std::string& prefix, int rank, int n,
                       const std::string& mine, std::chrono::milliseconds timeout) {
  BRAID_RETURN_IF_ERROR(
      store.setString(fmt::format("{}/{}", prefix, rank), mine.empty() ? "ok" : mine));
  Objection first;
  for (int r = 0; r < n; ++r) {
    auto said = store.getString(fmt::format("{}/{}", prefix, r), timeout);
    if (!said.isOk()) return said.status();
    if (*said != "ok" && first.rank < 0) first = Objection{r, *said};
  }
  return first;
}

std::shared_ptr<Store> makePrefixStore(std::shared_ptr<Store> base, const std::string& prefix) {
  return std::make_shared<PrefixStore>(std::move(base), prefix);
}

}  // namespace braid

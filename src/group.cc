// Groups (groupStart/groupEnd, braidGroupStart/End): per thread, nestable. Stream calls made
// inside are recorded and issued at the outermost groupEnd: the collectives in call order, then
// the sends and receives of each (communicator, stream) together, on the GPU in one launch.
#include <utility>
#include <vector>

#include "communicator_impl.h"

namespace braid {
namespace {

struct Recorded {
  Communicator::Impl* impl;
  OpDesc desc;
  Stream stream;
};
struct GroupState {
  int depth = 0;
  std::vector<Recorded> ops;
};
thread_local GroupState group;

bool pointToPoint(const OpDesc& d) {
  return d.kind == CollectiveKind::kSend || d.kind == CollectiveKind::kRecv;
}

}  // namespace

bool groupRecord(Communicator::Impl* impl, const OpDesc& desc, Stream stream) {
  if (group.depth == 0) return false;
  group.ops.push_back(Recorded{impl, desc, stream});
  return true;
}

Status groupStart() {
  ++group.depth;
  return Status();
}

Status groupEnd() {
  if (group.depth == 0) return invalidArgument("groupEnd without a matching groupStart");
  if (--group.depth > 0) return Status();
  std::vector<Recorded> ops = std::move(group.ops);
  group.ops.clear();
  Status first;
  auto keep = [&](const Status& s) {
    if (first.isOk() && !s.isOk()) first = s;
  };
  using Key = std::pair<Communicator::Impl*, Stream>;
  std::vector<std::pair<Key, std::vector<OpDesc>>> exchanges;
  for (const Recorded& r : ops) {
    if (!pointToPoint(r.desc)) {
      keep(r.impl->issueOnStream(r.desc, r.stream));
      continue;
    }
    Key key{r.impl, r.stream};
    auto it = exchanges.begin();
    while (it != exchanges.end() && it->first != key) ++it;
    if (it == exchanges.end()) it = exchanges.insert(exchanges.end(), {key, {}});
    it->second.push_back(r.desc);
  }
  for (auto& [key, list] : exchanges) keep(key.first->issuePointToPoint(list, key.second));
  return first;
}

}  // namespace braid

// STAND-IN (see comm_topology.h): CommTopology from the host id of every rank.
#include "comm_topology.h"

#include <map>

namespace braid {

CommTopology commTopologyFromHostIds(const std::vector<std::string>& hostIdPerRank) {
  CommTopology t;
  std::map<std::string, int> index;
  for (size_t r = 0; r < hostIdPerRank.size(); ++r) {
    auto [it, added] = index.emplace(hostIdPerRank[r], static_cast<int>(t.ranksOnHost.size()));
    if (added) t.ranksOnHost.emplace_back();
    t.hostOf.push_back(it->second);
    t.localRankOf.push_back(static_cast<int>(t.ranksOnHost[it->second].size()));
    t.ranksOnHost[it->second].push_back(static_cast<int>(r));
  }
  t.hosts = static_cast<int>(t.ranksOnHost.size());
  for (const auto& ranks : t.ranksOnHost)
    t.uniform = t.uniform && ranks.size() == t.ranksOnHost[0].size();
  return t;
}

}  // namespace braid

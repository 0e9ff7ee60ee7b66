// Simulated hosts for braid-run --hosts (see netns_hosts.h).
#include "netns_hosts.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "topology.h"

namespace braid::launcher {

Result<std::unique_ptr<InNetworkNamespace>> InNetworkNamespace::enter(const std::string& path) {
  net::Fd original(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!original.valid()) return systemError("open /proc/thread-self/ns/net");
  net::Fd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!target.valid()) return systemError("open " + path);
  if (::setns(target.get(), CLONE_NEWNET) != 0) {
    return systemError("enter the network namespace " + path + " (needs root / CAP_SYS_ADMIN)");
  }
  return std::unique_ptr<InNetworkNamespace>(new InNetworkNamespace(std::move(original)));
}

InNetworkNamespace::~InNetworkNamespace() {
  if (::setns(original_.get(), CLONE_NEWNET) != 0) {
    // Staying in a simulated host would put every later socket of braid-run in the wrong place.
    fmt::print(stderr, "braid-run: cannot return to the original network namespace: {}\n",
               std::strerror(errno));
    std::abort();
  }
}

Result<std::vector<SimulatedHost>> findSimulatedHosts(const std::string& prefix, int count) {
  std::vector<SimulatedHost> hosts;
  for (int i = 0; i < count; ++i) {
    SimulatedHost h;
    h.name = fmt::format("{}h{}", prefix, i);
    h.path = "/run/netns/" + h.name;
    if (::access(h.path.c_str(), F_OK) != 0) {
      return invalidArgument(fmt::format(
          "--hosts {}: network namespace {} not found ({}); create the hosts first with "
          "scripts/netns-cluster up {}{}",
          count, h.name, h.path, count, prefix == "braid-" ? "" : " --prefix " + prefix));
    }
    auto inside = InNetworkNamespace::enter(h.path);
    if (!inside.isOk()) return inside.status();
    h.address = firstInterfaceAddress();
    if (h.address.empty()) {
      return invalidArgument(
          fmt::format("network namespace {} has no up interface with an IPv4 address", h.name));
    }
    hosts.push_back(std::move(h));
  }
  return hosts;
}

std::vector<int> blockPlacement(int ranks, int hosts) {
  std::vector<int> hostOf;
  const int base = ranks / hosts, larger = ranks % hosts;
  for (int h = 0; h < hosts; ++h) {
    hostOf.insert(hostOf.end(), static_cast<size_t>(base + (h < larger ? 1 : 0)), h);
  }
  return hostOf;
}

}  // namespace braid::launcher

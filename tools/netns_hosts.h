// Simulated hosts for braid-run --hosts: network namespaces made by scripts/netns-cluster
// (/run/netns/<prefix>h<i>), the address each one's ranks advertise, and the block placement
// of ranks onto them. Apart from braid_run.cc so that the namespace handling reads on its own.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "braid/status.h"
#include "util/socket.h"

namespace braid::launcher {

struct SimulatedHost {
  std::string name;     // "braid-h0"
  std::string path;     // "/run/netns/braid-h0", entered by the rank's child before exec
  std::string address;  // its first up non-loopback IPv4 address ("10.77.0.1")
};

// Finds hosts <prefix>h0 .. <prefix>h<count-1> and reads each one's address from inside it.
// Fails with a message that says how to create them when one is missing, and with the OS error
// when entering one is not permitted (not root).
Result<std::vector<SimulatedHost>> findSimulatedHosts(const std::string& prefix, int count);

// While alive, the calling thread is in the network namespace at path; sockets it creates stay
// there after it leaves (braid-run serves the job's store from inside host 0 this way).
class InNetworkNamespace {
 public:
  static Result<std::unique_ptr<InNetworkNamespace>> enter(const std::string& path);
  ~InNetworkNamespace();
  InNetworkNamespace(const InNetworkNamespace&) = delete;
  InNetworkNamespace& operator=(const InNetworkNamespace&) = delete;

 private:
  explicit InNetworkNamespace(net::Fd original) : original_(std::move(original)) {}
  net::Fd original_;
};

// Host of each rank: consecutive blocks, the first ranks % hosts hosts one rank larger
// (8 ranks on 3 hosts: 0-2 on h0, 3-5 on h1, 6-7 on h2). Needs ranks >= hosts >= 1.
std::vector<int> blockPlacement(int ranks, int hosts);

}  // namespace braid::launcher

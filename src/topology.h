// What braid knows about where ranks run. Three layers:
//   - this process's host: its identity (which peers can share memory), the address peers on
//     other hosts should dial, its network interfaces (topology.cc);
//   - this host's hardware: NUMA nodes and the CPUs/NUMA nodes the process is bound to (hwloc),
//     RDMA NICs (libibverbs, loaded with dlopen) and which NUMA node each NIC and interface sits
//     near (hwloc PCI locality) (topology_hardware.cc) — discovered on demand (braid-info);
//   - a communicator's layout: which ranks share a host, from the host ids every rank
//     published (CommTopology, pure; Communicator::Impl::topology holds one).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace braid {

// BRAID_HOST_ID if set, else the kernel boot id plus the hostname (two containers on one
// machine with separate /dev/shm would share a boot id, hence the hostname).
std::string localHostId();

// One network interface of the calling process's network namespace.
struct NetInterface {
  std::string name;
  std::string ipv4;  // first IPv4 address; empty when it has none
  bool up = false;
  bool loopback = false;
  std::string mac;  // "52:54:00:12:34:56"; empty when it has none
  // /sys/class/net (and so hwloc) describes this very interface. False for a name that sysfs
  // knows from another network namespace (e.g. eth0 inside a netns whose /sys is the host's).
  bool inSysfs = false;
  int64_t speedMbps = -1;  // link speed from sysfs; -1 when unknown (virtual links)
  int numaNode = -1;       // NUMA node of its PCI device (hwloc); -1 = unknown or not near one
  std::string pciAddress;  // "0000:3b:00.0" when hwloc found its PCI device
};

// Every interface (getifaddrs), in the kernel's order; loopback included.
std::vector<NetInterface> networkInterfaces();

// An IPv4 address of this host that other hosts can reach: the first non-loopback address the
// hostname resolves to, else the first up non-loopback interface, else 127.0.0.1.
std::string advertisedAddress();

// The IPv4 address of the first up, non-loopback interface of the calling thread's network
// namespace, or "" when there is none (braid-run uses it inside each simulated host).
std::string firstInterfaceAddress();

// --- This host's hardware --------------------------------------------------------------------

struct NumaNodeInfo {
  int index = -1;  // OS index (as in /sys/devices/system/node/nodeN)
  int cores = 0;
  int pus = 0;  // hardware threads
  uint64_t memoryBytes = 0;
};

// Where the calling process may run, and where its calling thread last ran.
struct NumaPlacement {
  std::vector<NumaNodeInfo> nodes;  // the machine's NUMA nodes
  int cores = 0;                    // cores of the machine
  int pus = 0;                      // hardware threads of the machine
  std::string boundCpus;            // the process's CPU binding, as a list ("0-3,8-11")
  int boundCores = 0;               // cores the binding covers (fully or partly)
  int boundPus = 0;
  std::vector<int> boundNodes;  // NUMA nodes (OS indexes) whose CPUs the binding touches
  int currentCpu = -1;          // where the calling thread ran last; -1 = unknown
  int currentNode = -1;
  bool bound() const { return boundPus > 0 && boundPus < pus; }
};

// An RDMA device (libibverbs).
struct Nic {
  std::string name;        // "mlx5_0"
  std::string pciAddress;  // when hwloc found it
  int numaNode = -1;       // -1 = unknown or not near one node
};

struct HostTopology {
  std::string hostId;
  std::string hwlocError;  // why NUMA/PCI data is missing; empty when hwloc loaded
  NumaPlacement numa;
  std::string ibverbsNote;  // why there is no NIC list ("libibverbs.so.1 not found"), or ""
  std::vector<Nic> nics;
  std::vector<NetInterface> interfaces;  // with their NUMA node where hwloc knows it
};

// Discovers this host as the calling process sees it. Never fails: what cannot be found is
// left empty with a note (hwlocError, ibverbsNote). Takes tens of milliseconds (hwloc loads
// the PCI tree); not on any hot path.
HostTopology discoverHostTopology();

// Names of the RDMA devices libibverbs lists, loading `library` with dlopen. An absent library
// gives an empty list and, when note is given, a line saying why.
std::vector<std::string> ibverbsDeviceNames(const char* library = "libibverbs.so.1",
                                            std::string* note = nullptr);

// Human-readable, multi-line (braid-info --topology).
std::string describeHostTopology(const HostTopology& topo);

// --- A communicator's layout -----------------------------------------------------------------

// Which ranks share a host. Hosts are numbered in order of first appearance by rank, so host 0
// holds rank 0 and ranksOnHost[h] is sorted.
struct CommTopology {
  int hosts = 0;
  std::vector<int> hostOf;                    // by rank: host index
  std::vector<int> localRankOf;               // by rank: index among the ranks of its host
  std::vector<std::vector<int>> ranksOnHost;  // by host: its ranks, ascending
  bool uniform = false;                       // every host holds the same number of ranks
};

CommTopology commTopologyFromHostIds(const std::vector<std::string>& hostIdPerRank);

}  // namespace braid

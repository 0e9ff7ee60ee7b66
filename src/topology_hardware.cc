// This host's hardware as braid sees it: NUMA nodes and the process's CPU binding (hwloc), RDMA
// NICs (libibverbs, loaded with dlopen so that braid runs where rdma-core is not installed), and
// the NUMA node each NIC and network interface hangs off (hwloc's PCI tree). Used on demand
// (braid-info --topology); nothing here runs when a communicator is created.
#include <dlfcn.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <hwloc.h>

#include <memory>

#include "topology.h"

namespace braid {
namespace {

// libibverbs' entry points, declared here so that no header or link dependency is needed. The
// device struct stays opaque: only these three functions touch it.
struct IbvDevice;
using GetDeviceList = IbvDevice** (*)(int*);
using FreeDeviceList = void (*)(IbvDevice**);
using GetDeviceName = const char* (*)(IbvDevice*);

struct Bitmap {
  hwloc_bitmap_t map = hwloc_bitmap_alloc();
  Bitmap() = default;
  Bitmap(const Bitmap&) = delete;
  Bitmap& operator=(const Bitmap&) = delete;
  ~Bitmap() { hwloc_bitmap_free(map); }
};

std::string listText(hwloc_const_bitmap_t set) {
  char* text = nullptr;
  if (hwloc_bitmap_list_asprintf(&text, set) < 0 || text == nullptr) return "";
  std::string out = text;
  free(text);
  return out;
}

// The one NUMA node an object's locality covers, or -1 when it spans several (or none).
int singleNode(hwloc_const_nodeset_t nodes) {
  return nodes != nullptr && hwloc_bitmap_weight(nodes) == 1 ? hwloc_bitmap_first(nodes) : -1;
}

class Hwloc {
 public:
  Hwloc() {
    if (hwloc_topology_init(&topo_) != 0) {
      error_ = "hwloc_topology_init failed";
      return;
    }
    hwloc_topology_set_io_types_filter(topo_, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    if (hwloc_topology_load(topo_) != 0) error_ = "hwloc_topology_load failed";
  }
  ~Hwloc() { hwloc_topology_destroy(topo_); }
  Hwloc(const Hwloc&) = delete;
  Hwloc& operator=(const Hwloc&) = delete;

  const std::string& error() const { return error_; }

  NumaPlacement placement() const {
    NumaPlacement p;
    hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo_);
    p.cores = hwloc_get_nbobjs_inside_cpuset_by_type(topo_, all, HWLOC_OBJ_CORE);
    p.pus = hwloc_get_nbobjs_inside_cpuset_by_type(topo_, all, HWLOC_OBJ_PU);
    for (hwloc_obj_t n = nullptr;
         (n = hwloc_get_next_obj_by_type(topo_, HWLOC_OBJ_NUMANODE, n)) != nullptr;) {
      NumaNodeInfo info;
      info.index = static_cast<int>(n->os_index);
      info.cores = hwloc_get_nbobjs_inside_cpuset_by_type(topo_, n->cpuset, HWLOC_OBJ_CORE);
      info.pus = hwloc_get_nbobjs_inside_cpuset_by_type(topo_, n->cpuset, HWLOC_OBJ_PU);
      info.memoryBytes = n->attr != nullptr ? n->attr->numanode.local_memory : 0;
      p.nodes.push_back(info);
    }
    Bitmap bound, nodes;
    if (hwloc_get_cpubind(topo_, bound.map, HWLOC_CPUBIND_PROCESS) != 0) {
      hwloc_bitmap_copy(bound.map, all);  // unknown binding: say "everything"
    }
    p.boundCpus = listText(bound.map);
    p.boundPus = hwloc_get_nbobjs_inside_cpuset_by_type(topo_, bound.map, HWLOC_OBJ_PU);
    for (hwloc_obj_t c = nullptr;
         (c = hwloc_get_next_obj_by_type(topo_, HWLOC_OBJ_CORE, c)) != nullptr;) {
      if (hwloc_bitmap_intersects(c->cpuset, bound.map)) ++p.boundCores;
    }
    hwloc_cpuset_to_nodeset(topo_, bound.map, nodes.map);
    for (int i = hwloc_bitmap_first(nodes.map); i >= 0; i = hwloc_bitmap_next(nodes.map, i)) {
      p.boundNodes.push_back(i);
    }
    Bitmap last, lastNode;
    if (hwloc_get_last_cpu_location(topo_, last.map, HWLOC_CPUBIND_THREAD) == 0) {
      p.currentCpu = hwloc_bitmap_first(last.map);
      hwloc_cpuset_to_nodeset(topo_, last.map, lastNode.map);
      p.currentNode = singleNode(lastNode.map);
    }
    return p;
  }

  // The PCI address and NUMA node of the OS device called name of the given type, if any.
  void locate(hwloc_obj_osdev_type_e type, const std::string& name, std::string* pci,
              int* node) const {
    for (hwloc_obj_t d = nullptr; (d = hwloc_get_next_osdev(topo_, d)) != nullptr;) {
      if (d->attr->osdev.type != type || d->name == nullptr || name != d->name) continue;
      if (d->parent != nullptr && d->parent->type == HWLOC_OBJ_PCI_DEVICE) {
        const auto& a = d->parent->attr->pcidev;
        *pci = fmt::format("{:04x}:{:02x}:{:02x}.{:x}", a.domain, a.bus, a.dev, a.func);
      }
      hwloc_obj_t anchor = hwloc_get_non_io_ancestor_obj(topo_, d);
      *node = anchor != nullptr ? singleNode(anchor->nodeset) : -1;
      return;
    }
  }

 private:
  hwloc_topology_t topo_ = nullptr;
  std::string error_;
};

std::string gib(uint64_t bytes) { return fmt::format("{:.1f} GiB", bytes / double(1ull << 30)); }

std::string nodeText(int node) { return node >= 0 ? std::to_string(node) : "?"; }

}  // namespace

std::vector<std::string> ibverbsDeviceNames(const char* library, std::string* note) {
  std::vector<std::string> names;
  void* lib = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    if (note != nullptr) *note = fmt::format("{} not loadable (no rdma-core?)", library);
    return names;
  }
  auto getList = reinterpret_cast<GetDeviceList>(dlsym(lib, "ibv_get_device_list"));
  auto freeList = reinterpret_cast<FreeDeviceList>(dlsym(lib, "ibv_free_device_list"));
  auto getName = reinterpret_cast<GetDeviceName>(dlsym(lib, "ibv_get_device_name"));
  if (getList == nullptr || freeList == nullptr || getName == nullptr) {
    if (note != nullptr) *note = fmt::format("{} lacks the ibv_* device functions", library);
  } else {
    int count = 0;
    IbvDevice** list = getList(&count);
    for (int i = 0; list != nullptr && i < count; ++i) {
      const char* name = getName(list[i]);
      if (name != nullptr) names.emplace_back(name);
    }
    if (list != nullptr) freeList(list);
    if (note != nullptr) *note = names.empty() ? "libibverbs lists no device" : "";
  }
  // The library stays loaded: providers it loaded may have registered destructors with it.
  return names;
}

HostTopology discoverHostTopology() {
  HostTopology t;
  t.hostId = localHostId();
  t.interfaces = networkInterfaces();
  std::vector<std::string> rdma = ibverbsDeviceNames("libibverbs.so.1", &t.ibverbsNote);
  for (const std::string& name : rdma) t.nics.push_back(Nic{name, "", -1});
  Hwloc hw;
  t.hwlocError = hw.error();
  if (!t.hwlocError.empty()) return t;
  t.numa = hw.placement();
  for (Nic& nic : t.nics)
    hw.locate(HWLOC_OBJ_OSDEV_OPENFABRICS, nic.name, &nic.pciAddress, &nic.numaNode);
  for (NetInterface& n : t.interfaces) {
    if (n.inSysfs) hw.locate(HWLOC_OBJ_OSDEV_NETWORK, n.name, &n.pciAddress, &n.numaNode);
  }
  return t;
}

std::string describeHostTopology(const HostTopology& t) {
  std::string out = fmt::format("host {}\n", t.hostId);
  const NumaPlacement& p = t.numa;
  if (!t.hwlocError.empty()) {
    out += fmt::format("  NUMA: unknown ({})\n", t.hwlocError);
  } else {
    out += fmt::format("  NUMA nodes: {}, cores: {}, hardware threads: {}\n", p.nodes.size(),
                       p.cores, p.pus);
    for (const NumaNodeInfo& n : p.nodes) {
      out += fmt::format("    node {}: {} cores, {} threads, {}\n", n.index, n.cores, n.pus,
                         gib(n.memoryBytes));
    }
    out += fmt::format("  this process: cpus {} ({} cores, {} threads{}), NUMA node(s) {}\n",
                       p.boundCpus, p.boundCores, p.boundPus, p.bound() ? ", bound" : "",
                       fmt::join(p.boundNodes, ","));
    out += fmt::format("  running on cpu {}, NUMA node {}\n",
                       p.currentCpu >= 0 ? std::to_string(p.currentCpu) : "?",
                       nodeText(p.currentNode));
  }
  if (t.nics.empty()) {
    out += fmt::format("  RDMA NICs: none{}\n",
                       t.ibverbsNote.empty() ? "" : " (" + t.ibverbsNote + ")");
  } else {
    out += fmt::format("  RDMA NICs: {}\n", t.nics.size());
    for (const Nic& nic : t.nics) {
      out += fmt::format("    {:<12} NUMA node {}{}\n", nic.name, nodeText(nic.numaNode),
                         nic.pciAddress.empty() ? "" : ", PCI " + nic.pciAddress);
    }
  }
  out += fmt::format("  network interfaces: {}\n", t.interfaces.size());
  for (const NetInterface& n : t.interfaces) {
    out += fmt::format("    {:<12} {:<15} {}{}{}, NUMA node {}{}\n", n.name,
                       n.ipv4.empty() ? "-" : n.ipv4, n.up ? "up" : "down",
                       n.loopback ? ", loopback" : "",
                       n.speedMbps > 0 ? fmt::format(", {} Mb/s", n.speedMbps) : "",
                       nodeText(n.numaNode), n.pciAddress.empty() ? "" : ", PCI " + n.pciAddress);
  }
  return out;
}

}  // namespace braid

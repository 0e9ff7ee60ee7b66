// Host identity, network interfaces and address discovery, and a communicator's host layout.
// The hardware side (hwloc, libibverbs) lives in topology_hardware.cc.
#include "topology.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netdb.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "params.h"

namespace braid {

std::string localHostId() {
  if (!params().hostId.empty()) return params().hostId;
  std::string boot;
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::getline(in, boot);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + "/" + boot;
}

namespace {

std::string ipv4Text(const sockaddr* addr) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, text, sizeof(text));
  return text;
}

std::string macText(const sockaddr* addr) {
  const auto* ll = reinterpret_cast<const sockaddr_ll*>(addr);
  std::string out;
  for (int i = 0; i < ll->sll_halen && i < 8; ++i) {
    out += fmt::format("{}{:02x}", i == 0 ? "" : ":", ll->sll_addr[i]);
  }
  return out;
}

std::string sysfsValue(const std::string& name, const char* attribute) {
  std::ifstream in("/sys/class/net/" + name + "/" + attribute);
  std::string value;
  std::getline(in, value);
  return value;
}

int64_t linkSpeedMbps(const std::string& name) {
  std::ifstream in("/sys/class/net/" + name + "/speed");
  int64_t speed = -1;
  if (!(in >> speed) || speed <= 0) return -1;  // virtual links report -1 or refuse the read
  return speed;
}

}  // namespace

std::vector<NetInterface> networkInterfaces() {
  std::vector<NetInterface> out;
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return out;
  for (ifaddrs* i = ifs; i != nullptr; i = i->ifa_next) {
    if (i->ifa_name == nullptr) continue;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const NetInterface& n) { return n.name == i->ifa_name; });
    if (it == out.end()) {
      NetInterface n;
      n.name = i->ifa_name;
      n.up = (i->ifa_flags & IFF_UP) != 0;
      n.loopback = (i->ifa_flags & IFF_LOOPBACK) != 0;
      out.push_back(std::move(n));
      it = out.end() - 1;
    }
    if (i->ifa_addr != nullptr && i->ifa_addr->sa_family == AF_PACKET) {
      it->mac = macText(i->ifa_addr);
    }
    if (i->ifa_addr != nullptr && i->ifa_addr->sa_family == AF_INET && it->ipv4.empty()) {
      it->ipv4 = ipv4Text(i->ifa_addr);
    }
  }
  freeifaddrs(ifs);
  for (NetInterface& n : out) {
    n.inSysfs = !n.mac.empty() && sysfsValue(n.name, "address") == n.mac;
    if (n.inSysfs) n.speedMbps = linkSpeedMbps(n.name);
  }
  return out;
}

std::string firstInterfaceAddress() {
  for (const NetInterface& n : networkInterfaces()) {
    if (n.up && !n.loopback && !n.ipv4.empty()) return n.ipv4;
  }
  return "";
}

std::string advertisedAddress() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host, nullptr, &hints, &res) == 0) {
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      auto* sin = reinterpret_cast<sockaddr_in*>(a->ai_addr);
      if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127) continue;
      std::string text = ipv4Text(a->ai_addr);
      freeaddrinfo(res);
      return text;
    }
    freeaddrinfo(res);
  }
  std::string first = firstInterfaceAddress();
  return first.empty() ? "127.0.0.1" : first;
}

CommTopology commTopologyFromHostIds(const std::vector<std::string>& hostIdPerRank) {
  CommTopology t;
  std::map<std::string, int> indexOf;
  for (const std::string& id : hostIdPerRank) {
    auto [it, added] = indexOf.emplace(id, t.hosts);
    if (added) {
      ++t.hosts;
      t.ranksOnHost.emplace_back();
    }
    std::vector<int>& ranks = t.ranksOnHost[it->second];
    t.hostOf.push_back(it->second);
    t.localRankOf.push_back(static_cast<int>(ranks.size()));
    ranks.push_back(static_cast<int>(t.hostOf.size()) - 1);
  }
  t.uniform = std::all_of(t.ranksOnHost.begin(), t.ranksOnHost.end(),
                          [&](const auto& r) { return r.size() == t.ranksOnHost.front().size(); });
  return t;
}

}  // namespace braid

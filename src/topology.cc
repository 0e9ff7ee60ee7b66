// Host identity and address discovery.
#include "topology.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <unistd.h>

#include <fstream>

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
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
      freeaddrinfo(res);
      return text;
    }
    freeaddrinfo(res);
  }
  ifaddrs* ifs = nullptr;
  std::string found = "127.0.0.1";
  if (getifaddrs(&ifs) == 0) {
    for (ifaddrs* i = ifs; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
      if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text,
                sizeof(text));
      found = text;
      break;
    }
    freeifaddrs(ifs);
  }
  return found;
}

}  // namespace braid

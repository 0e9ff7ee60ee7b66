// Connection setup of the TCP transport: every rank listens on an ephemeral port and publishes
// it in the store; the lower rank of each pair dials the higher one BRAID_TCP_SOCKETS times
// with the job-token handshake. Strangers (wrong token, unexpected rank or socket index) are
// logged and dropped without disturbing the job; missing peers time out by name.
#include <algorithm>
#include <set>

#include "engine.h"
#include "logging.h"
#include "params.h"

namespace braid {
namespace {

using tcp::kMaxSockets;
using tcp::kPieceAlign;

constexpr auto kHelloWait = std::chrono::seconds(5);

std::chrono::milliseconds remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

std::string addrKey(int rank) { return "tcp/addr/" + std::to_string(rank); }

std::string rankList(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks) out += (out.empty() ? "" : ", ") + std::to_string(r);
  return out;
}

// Dials `peer` (a higher rank) `sockets` times.
Status dialPeer(const TransportSetup& setup, int peer, int sockets, std::vector<net::Fd>* out) {
  Result<Bytes> value = setup.store->get(addrKey(peer), remaining(setup.deadline));
  if (!value) {
    return Status(value.status().code(),
                  fmt::format("TCP transport setup on rank {}: rank {} never published its "
                              "address: {}",
                              setup.rank, peer, value.status().message()));
  }
  std::string text(value->begin(), value->end());
  std::string host;
  uint16_t port = 0;
  BRAID_RETURN_IF_ERROR(net::parseHostPort(text, &host, &port));
  for (int i = 0; i < sockets; ++i) {
    Result<net::Fd> fd = net::connectTcp(host, port, setup.deadline);
    if (!fd) {
      return Status(fd.status().code(),
                    fmt::format("TCP transport setup on rank {}: cannot connect to rank {} at "
                                "{}: {}",
                                setup.rank, peer, text, fd.status().message()));
    }
    net::Hello hello;
    hello.purpose = tcp::helloPurpose(setup.commId);
    hello.a = static_cast<uint64_t>(setup.rank);
    hello.b = static_cast<uint64_t>(i);
    Status st = net::sendHello(fd->get(), setup.token, hello, setup.deadline);
    if (!st) {
      return Status(st.code(), fmt::format("TCP transport setup on rank {}: handshake with "
                                           "rank {} at {} failed: {}",
                                           setup.rank, peer, text, st.message()));
    }
    (*out)[static_cast<size_t>(i)] = std::move(*fd);
  }
  return Status::ok();
}

// Accepts until every lower peer's sockets arrived. fds is indexed like setup.peers.
Status acceptPeers(const TransportSetup& setup, int listenFd, int sockets,
                   std::vector<std::vector<net::Fd>>* fds) {
  std::vector<int> slotOf(static_cast<size_t>(setup.size), -1);
  size_t expected = 0;
  for (size_t i = 0; i < setup.peers.size(); ++i) {
    if (setup.peers[i] < setup.rank) {
      slotOf[static_cast<size_t>(setup.peers[i])] = static_cast<int>(i);
      expected += static_cast<size_t>(sockets);
    }
  }
  const uint64_t purpose = tcp::helloPurpose(setup.commId);
  size_t got = 0;
  while (got < expected) {
    Result<net::Fd> fd = net::acceptTcp(listenFd, setup.deadline);
    if (!fd) {
      if (fd.status().code() != StatusCode::kTimeout) return fd.status();
      std::vector<int> missing;
      for (size_t i = 0; i < setup.peers.size(); ++i) {
        if (setup.peers[i] >= setup.rank) continue;
        for (const net::Fd& f : (*fds)[i]) {
          if (!f.valid()) {
            missing.push_back(setup.peers[i]);
            break;
          }
        }
      }
      return timeoutError(fmt::format(
          "TCP transport setup on rank {} timed out waiting for connections from rank(s) {} "
          "({} of {} sockets arrived; a peer that is down, or one with a different job token, "
          "never gets through)",
          setup.rank, rankList(missing), got, expected));
    }
    std::string from = net::peerName(fd->get());
    Result<net::Hello> hello = net::receiveHello(
        fd->get(), setup.token, std::min(setup.deadline, Clock::now() + kHelloWait));
    if (!hello) {
      // receiveHello already logged a refused token at WARN.
      BRAID_LOG(kInfo, kNet, "TCP transport on rank {}: dropped connection from {}: {}", setup.rank,
                from, hello.status().message());
      continue;
    }
    uint64_t rank = hello->a;
    uint64_t index = hello->b;
    int slot = rank < static_cast<uint64_t>(setup.size) ? slotOf[rank] : -1;
    if (hello->purpose != purpose || slot < 0 || index >= static_cast<uint64_t>(sockets) ||
        (*fds)[static_cast<size_t>(slot)][index].valid()) {
      BRAID_LOG(kWarn, kNet,
                "TCP transport on rank {}: dropped unexpected connection from {} (purpose "
                "0x{:x}, rank {}, socket {})",
                setup.rank, from, hello->purpose, rank, index);
      continue;
    }
    (*fds)[static_cast<size_t>(slot)][index] = std::move(*fd);
    ++got;
  }
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Transport>> createTcpTransport(const TransportSetup& setup) {
  if (setup.store == nullptr || setup.advertiseAddress.empty()) {
    return invalidArgument("TCP transport: setup needs a store and an advertise address");
  }
  std::set<int> seen;
  for (int p : setup.peers) {
    if (p < 0 || p >= setup.size || p == setup.rank || !seen.insert(p).second) {
      return invalidArgument(fmt::format("TCP transport: bad peer list (rank {})", p));
    }
  }
  const int64_t wanted = setup.socketsPerPeer > 0 ? setup.socketsPerPeer : params().tcpSockets;
  const int sockets = static_cast<int>(std::clamp<int64_t>(wanted, 1, kMaxSockets));
  const size_t stripe = static_cast<size_t>(
      std::max<int64_t>(params().tcpStripeBytes, static_cast<int64_t>(kPieceAlign) * sockets));

  Result<net::Fd> listener = net::listenTcp(setup.advertiseAddress, 0);
  if (!listener) return listener.status();
  Result<uint16_t> port = net::localPort(listener->get());
  if (!port) return port.status();
  const std::string& host = setup.advertiseAddress;
  std::string address =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(*port);
  BRAID_RETURN_IF_ERROR(
      setup.store->set(addrKey(setup.rank), Bytes(address.begin(), address.end())));

  std::vector<std::vector<net::Fd>> fds(setup.peers.size());
  for (auto& v : fds) v.resize(static_cast<size_t>(sockets));
  // Dial higher ranks in ascending order, then accept the lower ones: the highest rank only
  // accepts, so the chain of handshakes always ends.
  std::vector<size_t> order(setup.peers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return setup.peers[a] < setup.peers[b]; });
  for (size_t i : order) {
    if (setup.peers[i] > setup.rank) {
      BRAID_RETURN_IF_ERROR(dialPeer(setup, setup.peers[i], sockets, &fds[i]));
    }
  }
  BRAID_RETURN_IF_ERROR(acceptPeers(setup, listener->get(), sockets, &fds));

  auto transport = std::make_unique<tcp::TcpTransport>(setup.rank, setup.size, sockets, stripe,
                                                       setup.socketBufferBytes);
  BRAID_RETURN_IF_ERROR(transport->init(setup.peers, std::move(fds)));
  BRAID_LOG(kInfo, kNet,
            "TCP transport on rank {} ready at {}: {} peers x {} sockets, stripe {}, buffers {}",
            setup.rank, address, setup.peers.size(), sockets, stripe,
            setup.socketBufferBytes > 0 ? std::to_string(setup.socketBufferBytes) : "autotuned");
  return std::unique_ptr<Transport>(std::move(transport));
}

}  // namespace braid

// Store: the key/value rendezvous that ranks use to find each other before any transport
// exists. Three implementations: a TCP store (one process serves, the others connect), a
// file store (a shared directory) and an in-process hash store (tests with threads as ranks).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "braid/status.h"

namespace braid {

using Bytes = std::vector<uint8_t>;

class Store {
 public:
  virtual ~Store() = default;

  // Sets key to value (overwrites). Wakes every waiter on key.
  virtual Status set(const std::string& key, const Bytes& value) = 0;
  // Returns key's value, waiting until some rank sets it or the timeout passes (kTimeout,
  // naming the key).
  virtual Result<Bytes> get(const std::string& key, std::chrono::milliseconds timeout) = 0;
  // Atomically adds delta to the integer stored at key (missing = 0) and returns the new value.
  virtual Result<int64_t> add(const std::string& key, int64_t delta) = 0;
  // Non-blocking: whether every key is set.
  virtual Result<bool> check(const std::vector<std::string>& keys) = 0;

  // Waits until every key is set.
  Status wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout);
  Status setString(const std::string& key, const std::string& value);
  Result<std::string> getString(const std::string& key, std::chrono::milliseconds timeout);
};

// In-process store for ranks that are threads of one process.
std::shared_ptr<Store> makeHashStore();

// A store in a directory every rank can see (a local or shared file system). Keys become
// files written atomically (write + rename); add() uses an flock'ed counter file.
std::shared_ptr<Store> makeFileStore(const std::string& directory);

// Every key is stored under prefix + key in base; used to give sub-communicators their own
// key space within their parent's store.
std::shared_ptr<Store> makePrefixStore(std::shared_ptr<Store> base, const std::string& prefix);

// The TCP store. A server (in a background thread of the process that creates it) holds the
// keys; clients connect with the job token and are refused without it (logged at WARN).
class TcpStoreServer {
 public:
  virtual ~TcpStoreServer() = default;
  virtual uint16_t port() const = 0;
  virtual std::string address() const = 0;  // host:port as clients should dial it
};

// Listens on bindHost:port (port 0 = any free port). token must be presented by clients.
Result<std::unique_ptr<TcpStoreServer>> startTcpStoreServer(const std::string& bindHost,
                                                            uint16_t port, uint64_t token);

// Connects to a TCP store server, retrying until timeout (the server may start later).
Result<std::shared_ptr<Store>> connectTcpStore(const std::string& host, uint16_t port,
                                               uint64_t token, std::chrono::milliseconds timeout);

}  // namespace braid

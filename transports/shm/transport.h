// Shared-memory transport for ranks on one host: each rank owns one POSIX shared-memory
// segment holding its outgoing slot rings (one per peer), its doorbell futex and its error
// slot; peers map each other's segments once per communicator.
#pragma once

#include <memory>

// Angle brackets: a quoted "transport.h" would find this file itself, not src/transport.h.
#include <transport.h>

namespace braid {

Result<std::unique_ptr<Transport>> createShmTransport(const TransportSetup& setup);

}  // namespace braid

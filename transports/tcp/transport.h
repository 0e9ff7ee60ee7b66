// TCP transport: non-blocking sockets driven by epoll, several sockets per peer with large
// messages striped across them, TCP_NODELAY, length-checked frames, job-token handshake.
#pragma once

#include <memory>

// Angle brackets: a quoted "transport.h" would find this file itself, not src/transport.h.
#include <transport.h>

namespace braid {

Result<std::unique_ptr<Transport>> createTcpTransport(const TransportSetup& setup);

}  // namespace braid

// The TCP transport's wire format and striping layout, shared by the sending and receiving
// halves so that both sides cut every message into exactly the same pieces.
//
// Every message travels as one or more pieces; each piece is a frame: a fixed header followed
// by `len` payload bytes. A receiver knows which piece it expects next on each socket and
// checks the header against it before touching any payload byte.
#pragma once

#include <cstddef>
#include <cstdint>

namespace braid::tcp {

inline constexpr uint32_t kFrameMagic = 0x54445242;  // "BRDT" little-endian

enum class FrameKind : uint8_t {
  kData = 1,
  kFingerprint = 2,
  kError = 3,  // payload: the reason text of a failed rank
};

struct FrameHeader {
  uint32_t magic = kFrameMagic;
  uint8_t kind = 0;
  uint8_t pad[3] = {0, 0, 0};
  uint64_t seq = 0;
  uint64_t msgBytes = 0;  // size of the whole message
  uint64_t offset = 0;    // where this piece starts within the message
  uint64_t len = 0;       // payload bytes that follow this header
};
static_assert(sizeof(FrameHeader) == 40, "FrameHeader must have no hidden padding");

inline constexpr size_t kHeaderBytes = sizeof(FrameHeader);
inline constexpr size_t kMaxErrorText = 4096;  // longest error frame payload
inline constexpr int kMaxSockets = 16;         // sockets per peer (BRAID_TCP_SOCKETS clamp)
inline constexpr size_t kPieceAlign = 64;      // every piece but the last is a multiple of this

inline const char* frameKindName(uint8_t kind) {
  switch (kind) {
    case 1:
      return "data";
    case 2:
      return "fingerprint";
    case 3:
      return "error";
    default:
      return "unknown";
  }
}

// How a message of `bytes` is cut into pieces over `sockets` sockets with stripe threshold
// `stripe` (already clamped to >= kPieceAlign * sockets, so every piece is non-empty).
struct PieceLayout {
  int count = 1;
  size_t chunk = 0;  // size of every piece but the last
  size_t bytes = 0;

  PieceLayout(size_t messageBytes, int sockets, size_t stripe) : bytes(messageBytes) {
    if (sockets <= 1 || messageBytes <= stripe) {
      count = 1;
      chunk = messageBytes;
    } else {
      count = sockets;
      chunk = messageBytes / static_cast<size_t>(sockets) / kPieceAlign * kPieceAlign;
    }
  }
  size_t offset(int i) const { return static_cast<size_t>(i) * chunk; }
  size_t len(int i) const { return i + 1 < count ? chunk : bytes - offset(i); }
  // Piece i of the message with per-direction index msgIndex goes on this socket.
  static int socketOf(uint64_t msgIndex, int i, int sockets) {
    return static_cast<int>((msgIndex + static_cast<uint64_t>(i)) % static_cast<uint64_t>(sockets));
  }
};

// Purpose word of the transport's handshake (the dialer's rank and socket index go in a, b).
inline uint64_t helloPurpose(uint64_t commId) { return 0x7463700000000000ull ^ commId; }

}  // namespace braid::tcp

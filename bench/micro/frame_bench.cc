// What the TCP transport's framing costs per message, without any socket: computing the
// striping layout (PieceLayout), building the frame headers a send queues, and the receiver's
// parse-and-validate of every header (the checks of TcpTransport::acceptHeader). If these ran
// anywhere near the wire rate they would belong on the profile; this shows they do not.
//
//   braid-micro --benchmark_filter=Frame
//
// Arguments: bytes (message size) and sockets (per peer); the stripe threshold is the default
// BRAID_TCP_STRIPE_BYTES, clamped the way tcp/setup.cc clamps it. items/s counts messages;
// the "frames" counter is pieces per second (one header each).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "params.h"
#include "tcp/frame.h"

namespace braid {
namespace {

using tcp::FrameHeader;
using tcp::PieceLayout;

constexpr int64_t kSizes[] = {8, int64_t{64} << 10, int64_t{4} << 20, int64_t{256} << 20};
constexpr int64_t kSockets[] = {1, 2, 4};

size_t stripeFor(int sockets) {
  return static_cast<size_t>(
      std::max<int64_t>(params().tcpStripeBytes, static_cast<int64_t>(tcp::kPieceAlign) * sockets));
}

void setCounters(benchmark::State& state, const PieceLayout& layout) {
  state.SetItemsProcessed(state.iterations());
  state.counters["pieces"] = layout.count;
  state.counters["frames"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * layout.count, benchmark::Counter::kIsRate);
}

// The layout alone: every piece's offset, length and socket, as both halves compute them.
void BM_FrameLayout(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  const auto sockets = static_cast<int>(state.range(1));
  const size_t stripe = stripeFor(sockets);
  uint64_t msgIndex = 0;
  for (auto _ : state) {
    PieceLayout layout(bytes, sockets, stripe);
    uint64_t sum = 0;
    for (int i = 0; i < layout.count; ++i) {
      sum += layout.offset(i) + layout.len(i) +
             static_cast<uint64_t>(PieceLayout::socketOf(msgIndex, i, sockets));
    }
    ++msgIndex;
    benchmark::DoNotOptimize(sum);
  }
  setCounters(state, PieceLayout(bytes, sockets, stripe));
}

// The sender's half: the layout, one header per piece (as TcpTransport::post fills them), and
// the header bytes written into each socket's outgoing byte stream.
void BM_FramePack(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  const auto sockets = static_cast<int>(state.range(1));
  const size_t stripe = stripeFor(sockets);
  std::vector<uint8_t> wire(static_cast<size_t>(tcp::kMaxSockets) * tcp::kHeaderBytes);
  uint64_t msgIndex = 0;
  for (auto _ : state) {
    PieceLayout layout(bytes, sockets, stripe);
    for (int i = 0; i < layout.count; ++i) {
      FrameHeader h;
      h.kind = static_cast<uint8_t>(tcp::FrameKind::kData);
      h.seq = msgIndex;
      h.msgBytes = bytes;
      h.offset = layout.offset(i);
      h.len = layout.len(i);
      const int socket = PieceLayout::socketOf(msgIndex, i, sockets);
      std::memcpy(wire.data() + static_cast<size_t>(socket) * tcp::kHeaderBytes, &h, sizeof h);
    }
    ++msgIndex;
    benchmark::ClobberMemory();
  }
  setCounters(state, PieceLayout(bytes, sockets, stripe));
}

// The receiver's half: the layout of the posted receive, then for every piece the header
// copied out of its socket's byte stream and validated: magic and kind, bounds against the
// message, and (kind, seq, msgBytes, offset, len) against the piece expected next.
void BM_FrameParse(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  const auto sockets = static_cast<int>(state.range(1));
  const size_t stripe = stripeFor(sockets);
  const uint64_t seq = 7;
  // Message index 0 throughout, so that the prepared wire bytes match every iteration.
  std::vector<uint8_t> wire(static_cast<size_t>(tcp::kMaxSockets) * tcp::kHeaderBytes);
  {
    PieceLayout layout(bytes, sockets, stripe);
    for (int i = 0; i < layout.count; ++i) {
      FrameHeader h;
      h.kind = static_cast<uint8_t>(tcp::FrameKind::kData);
      h.seq = seq;
      h.msgBytes = bytes;
      h.offset = layout.offset(i);
      h.len = layout.len(i);
      std::memcpy(wire.data() +
                      static_cast<size_t>(PieceLayout::socketOf(0, i, sockets)) * tcp::kHeaderBytes,
                  &h, sizeof h);
    }
  }
  int64_t bad = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(wire.data());
    PieceLayout layout(bytes, sockets, stripe);
    for (int i = 0; i < layout.count; ++i) {
      FrameHeader h;
      const int socket = PieceLayout::socketOf(0, i, sockets);
      std::memcpy(&h, wire.data() + static_cast<size_t>(socket) * tcp::kHeaderBytes, sizeof h);
      const bool ok = h.magic == tcp::kFrameMagic && h.kind >= 1 && h.kind <= 3 &&
                      h.len <= h.msgBytes && h.offset <= h.msgBytes - h.len &&
                      h.kind == static_cast<uint8_t>(tcp::FrameKind::kData) && h.seq == seq &&
                      h.msgBytes == bytes && h.offset == layout.offset(i) && h.len == layout.len(i);
      bad += ok ? 0 : 1;
    }
    benchmark::DoNotOptimize(bad);
  }
  if (bad != 0) state.SkipWithError("a prepared frame header failed validation");
  setCounters(state, PieceLayout(bytes, sockets, stripe));
}

void applyArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"bytes", "sockets"});
  for (int64_t bytes : kSizes) {
    for (int64_t sockets : kSockets) b->Args({bytes, sockets});
  }
}

int registerAll() {
  applyArgs(benchmark::RegisterBenchmark("Frame/Layout", BM_FrameLayout));
  applyArgs(benchmark::RegisterBenchmark("Frame/Pack", BM_FramePack));
  applyArgs(benchmark::RegisterBenchmark("Frame/Parse", BM_FrameParse));
  return 0;
}

const int registered = registerAll();

}  // namespace
}  // namespace braid

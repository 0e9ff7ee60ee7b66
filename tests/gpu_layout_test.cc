// The GPU kernels' staging arithmetic (algorithms/cuda/peer_memory.h), checked on the CPU where
// CI runs: every writer's part in a reader's staging is distinct and inside the allocation for
// 2..8 ranks, and staged chunks keep the fewest rounds, share the work among the lanes, stay
// 16-byte multiples no larger than a part, and cover the buffer exactly; LL128 lines carry every
// payload unit exactly once.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "cuda/peer_memory.h"

namespace braid::cuda {
namespace {

TEST(GpuStagingLayout, EveryWritersPartIsDistinctAndInsideTheStaging) {
  for (int n = 2; n <= kMaxRanks; ++n) {
    for (int lanes : {1, 3, kMaxLanes}) {
      const size_t parts = stagingParts(n, lanes);
      EXPECT_EQ(parts, static_cast<size_t>(kHalves) * (n - 1) * lanes * 2);
      for (int reader = 0; reader < n; ++reader) {
        std::set<size_t> used;
        for (int half = 0; half < kHalves; ++half) {
          for (int writer = 0; writer < n; ++writer) {
            if (writer == reader) continue;
            for (int lane = 0; lane < lanes; ++lane) {
              for (int part = 0; part < 2; ++part) {
                const size_t slot = stagingSlot(n, lanes, reader, half, writer, lane, part);
                ASSERT_LT(slot, parts) << "n " << n << " reader " << reader << " writer " << writer;
                ASSERT_TRUE(used.insert(slot).second)
                    << "n " << n << " reader " << reader << " writer " << writer << " half " << half
                    << " lane " << lane << " part " << part << " shares slot " << slot;
              }
            }
          }
        }
        // Every part of the allocation belongs to some writer: none is dead memory.
        EXPECT_EQ(used.size(), parts) << "n " << n << " lanes " << lanes;
      }
    }
  }
}

// What a kernel does with the chunk: every lane takes its shares (shareOf) round by round.
struct Cover {
  size_t rounds = 0;
  std::vector<size_t> laneUnits;
};
Cover cover(size_t total, size_t chunk, size_t lanes) {
  Cover c;
  c.laneUnits.assign(lanes, 0);
  for (size_t round = 0;; ++round) {
    bool any = false;
    for (size_t lane = 0; lane < lanes; ++lane) {
      const Share sh =
          shareOf(total, chunk, static_cast<int>(lanes), static_cast<int>(lane), round);
      c.laneUnits[lane] += sh.n;
      any = any || sh.n > 0;
    }
    if (!any) break;
    c.rounds = round + 1;
  }
  return c;
}

TEST(GpuStagingLayout, StagedChunksTakeTheFewestRoundsAndShareTheLanes) {
  const size_t partBytes = 174592;  // 128 MiB over 3 x 2 x 64 x 2 parts, rounded to 256
  for (size_t unit : {1, 2, 4, 8}) {
    for (size_t lanes : {1, 7, 64}) {
      const size_t cap = partBytes / unit;
      // clang-format off
      const std::vector<size_t> totals = {0, 1, 5, 16, 17, 1023, lanes * 16 / unit + 1, cap - 1,
                                          cap, cap + 1, cap * lanes, cap * lanes + 1,
                                          3 * cap * lanes - 7, 12 * cap * lanes + cap / 100,
                                          (64u << 20) / unit};
      // clang-format on
      for (size_t total : totals) {
        const size_t chunk = stagedChunkOf(total, unit, partBytes, lanes);
        SCOPED_TRACE(testing::Message() << "unit " << unit << " lanes " << lanes << " total "
                                        << total << " chunk " << chunk);
        ASSERT_LE(chunk, cap);
        EXPECT_EQ(chunk * unit % 16, 0u);
        if (total == 0) continue;
        ASSERT_GT(chunk, 0u);
        const Cover c = cover(total, chunk, lanes);
        size_t covered = 0;
        for (size_t u : c.laneUnits) covered += u;
        EXPECT_EQ(covered, total);
        const size_t fewest = (total + cap * lanes - 1) / (cap * lanes);
        EXPECT_EQ(c.rounds, fewest);
        // Lanes share the work: none carries more than its fair share plus one 16-byte
        // rounding per round (whole parts put a buffer of one part and a bit on one lane).
        const size_t align = 16 / std::min<size_t>(unit, 16);
        const size_t fair = (total + lanes - 1) / lanes;
        for (size_t u : c.laneUnits) EXPECT_LE(u, fair + c.rounds * align);
      }
    }
  }
}

// Every 8-byte unit of a payload is carried by exactly one piece of one line, and the lines are
// as few as the payload needs; the region holds 2 parities x n writers x those lines.
TEST(GpuLl128Layout, LinesCarryEveryUnitOnce) {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{8}, size_t{112}, size_t{119}, size_t{120},
                       size_t{121}, size_t{240}, size_t{4093}, size_t{1} << 20}) {
    const size_t units = (bytes + 7) / 8, lines = ll128Lines(bytes);
    std::vector<int> carried(lines * (kLl128DataBytes / 8), 0);
    for (size_t line = 0; line < lines; ++line) {
      for (int piece = 0; piece < static_cast<int>(kLl128LineBytes / 16); ++piece) {
        for (int k = 0; k < ll128UnitsOf(piece); ++k) {
          const size_t u = ll128FirstUnit(line, piece) + k;
          ASSERT_LT(u, carried.size()) << "bytes " << bytes << " line " << line;
          ++carried[u];
        }
      }
    }
    for (size_t u = 0; u < carried.size(); ++u) ASSERT_EQ(carried[u], 1) << "unit " << u;
    EXPECT_GE(carried.size(), units);
    EXPECT_GE(lines * kLl128DataBytes, bytes);
    if (bytes > 0) {
      EXPECT_LT((lines - 1) * kLl128DataBytes, bytes);
    }
  }
  EXPECT_EQ(ll128RegionBytes(2, 120), 2 * 2 * kLl128LineBytes);
  EXPECT_EQ(ll128RegionBytes(4, 0), 0u);
}

}  // namespace
}  // namespace braid::cuda

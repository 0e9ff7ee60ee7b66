// Recursive halving-doubling (Rabenseifner) rank arithmetic: folding a world of any size onto
// the largest power of two p <= n, the partner and the segment ranges of each halving
// (reduce-scatter) and doubling (allgather) step, and which original ranks' blocks each
// participant's segment covers. Pure functions, tested for n = 1..64 in tests/patterns_test.cc.
//
// Folding: with rem = n - p, the first 2*rem ranks pair up (2j, 2j+1). The even rank of a pair
// sits the exchange out: it hands its data to the odd one first and gets the result back at
// the end. Every other rank takes part. Participants are numbered 0..p-1 ("virtual ranks"):
// pair j becomes participant j, and rank r >= 2*rem becomes participant r - rem.
#pragma once

namespace braid::patterns {

// The largest power of two <= n (n >= 1).
inline int hdPow2(int n) {
  int p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}
// Number of halving steps (and of doubling steps): log2 p.
inline int hdSteps(int n) {
  int steps = 0;
  for (int p = hdPow2(n); p > 1; p /= 2) ++steps;
  return steps;
}
inline int hdRemainder(int n) { return n - hdPow2(n); }

// The participant number of rank, or -1 if rank sits out (folds into its partner).
inline int hdVirtualRank(int rank, int n) {
  const int rem = hdRemainder(n);
  if (rank < 2 * rem) return rank % 2 == 1 ? rank / 2 : -1;
  return rank - rem;
}
// The rank that plays participant v.
inline int hdRealRank(int v, int n) {
  const int rem = hdRemainder(n);
  return v < rem ? 2 * v + 1 : v + rem;
}
// The rank this one folds with (the sitting-out even rank and its odd partner name each
// other), or -1 for a rank outside the first 2*rem.
inline int hdFoldPartner(int rank, int n) {
  if (rank >= 2 * hdRemainder(n)) return -1;
  return rank % 2 == 0 ? rank + 1 : rank - 1;
}
// The first original rank whose block participant v's segment holds (v = 0..p; v = p gives n).
// Participant v covers the blocks of ranks [hdFirstRankOf(v), hdFirstRankOf(v + 1)): a pair's
// two blocks, or its own.
inline int hdFirstRankOf(int v, int n) {
  const int rem = hdRemainder(n);
  return v < rem ? 2 * v : v + rem;
}

// A range of participant segments [begin, end).
struct SegmentRange {
  int begin = 0;
  int end = 0;
  bool operator==(const SegmentRange&) const = default;
};
// The aligned run of `width` segments (a power of two) that contains segment v.
inline SegmentRange hdAlignedRange(int v, int width) {
  const int begin = v & ~(width - 1);
  return {begin, begin + width};
}

// Halving step s = 0..steps-1 among p participants: v exchanges with v ^ (p >> (s + 1)); it
// keeps (and reduces) the half of its current range that contains v and sends the other half.
// After the last step v holds segment v, reduced over all participants.
inline int hdHalvingPartner(int v, int p, int step) { return v ^ (p >> (step + 1)); }
inline SegmentRange hdHalvingKeep(int v, int p, int step) {
  return hdAlignedRange(v, p >> (step + 1));
}
inline SegmentRange hdHalvingSend(int v, int p, int step) {
  return hdAlignedRange(hdHalvingPartner(v, p, step), p >> (step + 1));
}

// Doubling step s = 0..steps-1: v exchanges with v ^ (1 << s), sending the 2^s segments it
// holds and receiving the partner's; afterwards it holds the aligned 2^(s+1) segments.
inline int hdDoublingPartner(int v, int step) { return v ^ (1 << step); }
inline SegmentRange hdDoublingSend(int v, int step) { return hdAlignedRange(v, 1 << step); }
inline SegmentRange hdDoublingRecv(int v, int step) {
  return hdAlignedRange(hdDoublingPartner(v, step), 1 << step);
}

}  // namespace braid::patterns

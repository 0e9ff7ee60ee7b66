// The TCP store's wire protocol and small helpers shared by its server and its client.
//
// Wire format (host byte order; all ranks of a job share one architecture):
//   request  {uint8 op; uint32 keyLen; key; uint64 valueLen; value}
//   reply    {uint8 status; uint64 len; payload}   status 0 = ok, 1 = error (payload = message)
// ADD's value and reply payload are an int64; CHECK's value is a list of {uint32 len; key} and
// its reply payload one byte (1 = all keys set).
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "braid/store.h"
#include "params.h"

namespace braid::tcpstore {

using Clock = std::chrono::steady_clock;

enum class Op : uint8_t { kSet = 1, kGet = 2, kAdd = 3, kCheck = 4 };
constexpr uint8_t kReplyOk = 0;
constexpr uint8_t kReplyError = 1;
constexpr uint64_t kStorePurpose = 1;
constexpr size_t kMaxKeyBytes = 4096;
constexpr uint64_t kMaxValueBytes = uint64_t{1} << 30;
constexpr size_t kHelloBytes = 5 * sizeof(uint64_t);
constexpr size_t kReplyHeaderBytes = 1 + sizeof(uint64_t);

template <typename T>
inline T loadAt(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
inline void append(Bytes* out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out->insert(out->end(), p, p + sizeof(T));
}

inline bool parseInt64(const Bytes& b, int64_t* out) {
  *out = 0;
  if (b.empty()) return true;
  const char* begin = reinterpret_cast<const char*>(b.data());
  auto [ptr, ec] = std::from_chars(begin, begin + b.size(), *out);
  return ec == std::errc() && ptr == begin + b.size();
}

inline Clock::time_point deadlineAfter(std::chrono::milliseconds timeout) {
  constexpr auto kForever = std::chrono::hours(24 * 365 * 10);
  if (timeout < std::chrono::milliseconds(0)) timeout = std::chrono::milliseconds(0);
  return Clock::now() + std::min<Clock::duration>(timeout, kForever);
}

inline Clock::time_point defaultDeadline() {
  auto ms = static_cast<int64_t>(params().timeoutSec * 1000.0);
  return deadlineAfter(std::chrono::milliseconds(ms));
}

}  // namespace braid::tcpstore

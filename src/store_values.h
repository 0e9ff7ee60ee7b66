// Setup exchanges through a communicator's Store: plain structs one rank publishes and others
// read byte for byte (so only trivially copyable types, between ranks of one build), and the
// vote that ends a setup step every rank must agree on (the GPU peer mapping, a registration).
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <string>
#include <type_traits>

#include "braid/status.h"
#include "braid/store.h"

namespace braid {

template <typename T>
Status setValue(Store& store, const std::string& key, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  const auto* raw = reinterpret_cast<const uint8_t*>(&value);
  return store.set(key, Bytes(raw, raw + sizeof(T)));
}

// `what` names the value in the error for a value of the wrong size.
template <typename T>
Result<T> getValue(Store& store, const std::string& key, std::chrono::milliseconds timeout,
                   const char* what) {
  static_assert(std::is_trivially_copyable_v<T>);
  auto got = store.get(key, timeout);
  if (!got.isOk()) return got.status();
  if (got->size() != sizeof(T))
    return internalError(fmt::format("malformed {} in the store", what));
  T value;
  std::memcpy(&value, got->data(), sizeof(T));
  return value;
}

// The first objection of a vote: the lowest objecting rank and its reason; rank -1 when every
// rank agreed.
struct Objection {
  int rank = -1;
  std::string reason;
};

// Every rank of n publishes `mine` under prefix/rank ("" = it agrees), then reads every rank's.
// Every rank gets the same answer.
Result<Objection> vote(Store& store, const std::string& prefix, int rank, int n,
                       const std::string& mine, std::chrono::milliseconds timeout);

}  // namespace braid

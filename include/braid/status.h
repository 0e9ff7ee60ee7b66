// Status and Result: how every braid call reports success or a precise failure.
// Nothing throws across the library boundary; codes keep failure classes apart so that
// callers can react (retry a Timeout, tear down on RemoteError, fix an InvalidArgument).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace braid {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // the caller passed something wrong; the message names the argument
  kRemoteError = 2,      // another rank failed, died, or disagreed about the collective
  kTimeout = 3,          // a wait passed its deadline (BRAID_TIMEOUT); names the silent ranks
  kAborted = 4,          // the communicator was aborted
  kSystemError = 5,      // an OS call failed (errno text in the message)
  kUnsupported = 6,      // valid request this build or configuration cannot serve
  kInternal = 7,         // a braid bug: please report
};

const char* toString(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool isOk() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return isOk(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "Timeout: allReduce #12 ..." — code name and message.
  std::string toString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

Status invalidArgument(std::string message);
Status remoteError(std::string message);
Status timeoutError(std::string message);
Status abortedError(std::string message);
Status systemError(std::string message);  // appends strerror(errno)
Status unsupported(std::string message);
Status internalError(std::string message);

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool isOk() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return isOk(); }
  const Status& status() const {
    static const Status kOk;
    return isOk() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace braid

// Return early with the Status of an expression that failed.
#define BRAID_RETURN_IF_ERROR(expr)                  \
  do {                                               \
    ::braid::Status braid_status_ = (expr);          \
    if (!braid_status_.isOk()) return braid_status_; \
  } while (0)

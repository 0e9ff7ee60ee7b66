// Status formatting and the constructors for each failure class.
#include "braid/status.h"

#include <cerrno>
#include <cstring>

namespace braid {

const char* toString(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kRemoteError:
      return "RemoteError";
    case StatusCode::kTimeout:
      return "Timeout";
    case StatusCode::kAborted:
      return "Aborted";
    case StatusCode::kSystemError:
      return "SystemError";
    case StatusCode::kUnsupported:
      return "Unsupported";
    case StatusCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::toString() const {
  if (isOk()) return "OK";
  return std::string(braid::toString(code_)) + ": " + message_;
}

Status invalidArgument(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message));
}
Status remoteError(std::string message) {
  return Status(StatusCode::kRemoteError, std::move(message));
}
Status timeoutError(std::string message) {
  return Status(StatusCode::kTimeout, std::move(message));
}
Status abortedError(std::string message) {
  return Status(StatusCode::kAborted, std::move(message));
}
Status systemError(std::string message) {
  int err = errno;
  return Status(StatusCode::kSystemError, message + ": " + std::strerror(err));
}
Status unsupported(std::string message) {
  return Status(StatusCode::kUnsupported, std::move(message));
}
Status internalError(std::string message) {
  return Status(StatusCode::kInternal, std::move(message));
}

}  // namespace braid

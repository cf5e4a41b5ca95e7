#include "store/status.h"

#include <cerrno>
#include <cstring>

namespace keepfs {

Status::Status(StatusCode code, std::string message, int saved_errno)
    : rep_(code == StatusCode::kOk ? nullptr
                                   : std::make_shared<const Rep>(
                                         Rep{code, saved_errno, std::move(message)})) {}

Status Status::FromErrno(int err, std::string_view context) {
  StatusCode code = StatusCode::kIoError;
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      code = StatusCode::kNoSpace;
      break;
    case ENOENT:
      code = StatusCode::kNotFound;
      break;
    case EACCES:
    case EPERM:
      code = StatusCode::kPermissionDenied;
      break;
    case EEXIST:
      code = StatusCode::kAlreadyExists;
      break;
    case ENOTSUP:
      code = StatusCode::kNotSupported;
      break;
    default:
      break;
  }
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  return Status(code, std::move(msg), err);
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->message : kEmpty;
}

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kAlreadyExists: return "already exists";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kCorruption: return "corruption";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kNoSpace: return "no space";
    case StatusCode::kBusy: return "busy";
    case StatusCode::kPermissionDenied: return "permission denied";
    case StatusCode::kNotSupported: return "not supported";
    case StatusCode::kInternal: return "internal error";
    case StatusCode::kCancelled: return "cancelled";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(StatusCodeName(code())) + ": " + message();
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message();
  return Status(code(), std::move(msg), saved_errno());
}

int Status::ToErrno() const {
  switch (code()) {
    case StatusCode::kOk: return 0;
    case StatusCode::kNotFound: return ENOENT;
    case StatusCode::kAlreadyExists: return EEXIST;
    case StatusCode::kInvalidArgument: return EINVAL;
    case StatusCode::kCorruption: return EIO;
    case StatusCode::kIoError: return saved_errno() ? saved_errno() : EIO;
    case StatusCode::kNoSpace: return ENOSPC;
    case StatusCode::kBusy: return EBUSY;
    case StatusCode::kPermissionDenied: return EACCES;
    case StatusCode::kNotSupported: return ENOTSUP;
    case StatusCode::kInternal: return EIO;
    case StatusCode::kCancelled: return EINTR;
  }
  return EIO;
}

}  // namespace keepfs

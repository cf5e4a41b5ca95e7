// Status and Result<T>: the error currency of every keepfs layer.
//
// A Status is OK (cheap: no allocation) or carries a code, a message and the
// errno that caused it, if any. Result<T> holds either a T or a non-OK Status,
// shaped like std::expected. Both are [[nodiscard]]: an error is handled,
// returned, or swallowed on purpose with IgnoreError() and a comment saying why.
//
// Thread safety: values; distinct objects may be used from distinct threads.
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace keepfs {

enum class StatusCode : int {
  kOk = 0,
  kNotFound,         // a named thing (store, user, snapshot, path) does not exist
  kAlreadyExists,    // creating something that is already there
  kInvalidArgument,  // bad input from the user; nothing was touched
  kCorruption,       // bytes read from disk fail a check; never an assert
  kIoError,          // the OS refused a read or write (errno saved)
  kNoSpace,          // ENOSPC / EDQUOT
  kBusy,             // the store is locked by another process
  kPermissionDenied,
  kNotSupported,
  kInternal,  // a broken invariant; a bug
  kCancelled,  // the caller asked to stop; nothing was committed
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, int saved_errno = 0);

  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status Busy(std::string msg) { return {StatusCode::kBusy, std::move(msg)}; }
  static Status NotSupported(std::string msg) {
    return {StatusCode::kNotSupported, std::move(msg)};
  }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  // An OS error: the code is derived from err (ENOSPC -> kNoSpace, ENOENT ->
  // kNotFound, EACCES/EPERM -> kPermissionDenied, else kIoError).
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  int saved_errno() const { return rep_ ? rep_->saved_errno : 0; }
  const std::string& message() const;
  bool IsNotFound() const { return code() == StatusCode::kNotFound; }
  bool IsCorruption() const { return code() == StatusCode::kCorruption; }

  // "corruption: pack 12 offset 40: checksum mismatch".
  std::string ToString() const;
  // Returns a copy with "context: " prepended to the message.
  Status WithContext(std::string_view context) const;
  // The errno a FUSE reply or syscall wrapper should use for this status.
  int ToErrno() const;

  // Marks the status as deliberately ignored. Always write why next to it.
  void IgnoreError() const {}

 private:
  struct Rep {
    StatusCode code;
    int saved_errno;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;  // null when OK; shared so copies are cheap
};

const char* StatusCodeName(StatusCode code);

// Result<T>: a T or an error Status. Accessing value() of an error aborts.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace keepfs

#define KEEPFS_CONCAT_INNER_(a, b) a##b
#define KEEPFS_CONCAT_(a, b) KEEPFS_CONCAT_INNER_(a, b)

#define KEEPFS_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::keepfs::Status keepfs_status_ = (expr);        \
    if (!keepfs_status_.ok()) return keepfs_status_; \
  } while (0)

#define KEEPFS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#define KEEPFS_ASSIGN_OR_RETURN(lhs, expr) \
  KEEPFS_ASSIGN_OR_RETURN_IMPL_(KEEPFS_CONCAT_(keepfs_result_, __LINE__), lhs, expr)

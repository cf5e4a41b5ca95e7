#include "store/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>

#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.saved_errno(), 0);
  EXPECT_EQ(s.ToString(), "ok");
  EXPECT_EQ(s.ToErrno(), 0);
  EXPECT_TRUE(Status::OK().ok());
}

TEST(StatusTest, FactoriesSetCodeAndMessage) {
  struct Case {
    Status status;
    StatusCode code;
  };
  const Case cases[] = {
      {Status::NotFound("m"), StatusCode::kNotFound},
      {Status::AlreadyExists("m"), StatusCode::kAlreadyExists},
      {Status::InvalidArgument("m"), StatusCode::kInvalidArgument},
      {Status::Corruption("m"), StatusCode::kCorruption},
      {Status::Busy("m"), StatusCode::kBusy},
      {Status::NotSupported("m"), StatusCode::kNotSupported},
      {Status::Internal("m"), StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(StatusCodeName(c.code));
    EXPECT_FALSE(c.status.ok());
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_EQ(c.status.message(), "m");
  }
  EXPECT_TRUE(Status::NotFound("x").IsNotFound());
  EXPECT_TRUE(Status::Corruption("x").IsCorruption());
  EXPECT_FALSE(Status::Corruption("x").IsNotFound());
}

TEST(StatusTest, ToStringNamesTheCode) {
  EXPECT_EQ(Status::Corruption("pack 12 offset 40: checksum mismatch").ToString(),
            "corruption: pack 12 offset 40: checksum mismatch");
  EXPECT_EQ(Status::NotFound("user bob").ToString(), "not found: user bob");
}

TEST(StatusTest, WithContextPrependsAndKeepsCodeAndErrno) {
  Status s = Status::FromErrno(EIO, "reading x").WithContext("pack 3");
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(s.saved_errno(), EIO);
  EXPECT_EQ(s.message().rfind("pack 3: reading x: ", 0), 0u) << s.message();
  EXPECT_TRUE(Status::OK().WithContext("ctx").ok());
}

TEST(StatusTest, FromErrnoMapsCodes) {
  struct Case {
    int err;
    StatusCode code;
  };
  const Case cases[] = {
      {ENOSPC, StatusCode::kNoSpace},         {EDQUOT, StatusCode::kNoSpace},
      {ENOENT, StatusCode::kNotFound},        {EACCES, StatusCode::kPermissionDenied},
      {EPERM, StatusCode::kPermissionDenied}, {EIO, StatusCode::kIoError},
      {EEXIST, StatusCode::kAlreadyExists},   {ENOTSUP, StatusCode::kNotSupported},
      {EBADF, StatusCode::kIoError},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.err);
    Status s = Status::FromErrno(c.err, "ctx");
    EXPECT_EQ(s.code(), c.code);
    EXPECT_EQ(s.saved_errno(), c.err);
    EXPECT_EQ(s.message().rfind("ctx: ", 0), 0u) << s.message();
    EXPECT_GT(s.message().size(), 5u) << "strerror text is missing";
  }
}

// The one Status -> errno table, table-tested (STYLE.md "Errors").
TEST(StatusTest, ToErrnoTable) {
  struct Case {
    Status status;
    int err;
  };
  const Case cases[] = {
      {Status::OK(), 0},
      {Status::NotFound("x"), ENOENT},
      {Status::AlreadyExists("x"), EEXIST},
      {Status::InvalidArgument("x"), EINVAL},
      {Status::Corruption("x"), EIO},
      {Status(StatusCode::kIoError, "x"), EIO},
      {Status::FromErrno(EROFS, "x"), EROFS},
      {Status(StatusCode::kNoSpace, "x"), ENOSPC},
      {Status::Busy("x"), EBUSY},
      {Status(StatusCode::kPermissionDenied, "x"), EACCES},
      {Status::NotSupported("x"), ENOTSUP},
      {Status::Internal("x"), EIO},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.status.ToString());
    EXPECT_EQ(c.status.ToErrno(), c.err);
  }
}

TEST(StatusTest, CopiesShareAndCompareEqualContent) {
  Status a = Status::Busy("locked");
  Status b = a;
  EXPECT_EQ(b.code(), StatusCode::kBusy);
  EXPECT_EQ(b.message(), "locked");
  a = Status::OK();
  EXPECT_EQ(b.message(), "locked");  // b is unaffected by reassigning a
}

TEST(StatusResultTest, HoldsValueOrStatus) {
  Result<std::string> good(std::string("v"));
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(static_cast<bool>(good));
  EXPECT_EQ(*good, "v");
  EXPECT_EQ(good->size(), 1u);
  EXPECT_TRUE(good.status().ok());

  Result<std::string> bad(Status::NotFound("gone"));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bad.status().message(), "gone");
}

TEST(StatusResultTest, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  ASSERT_OK(r);
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

Status FailsWith(StatusCode code) { return Status(code, "inner"); }
Result<int> Number(bool ok) {
  if (!ok) return Status::InvalidArgument("no number");
  return 42;
}

Status UseReturnIfError(bool fail, int* reached) {
  KEEPFS_RETURN_IF_ERROR(fail ? FailsWith(StatusCode::kBusy) : Status::OK());
  *reached = 1;
  return Status::OK();
}

Result<int> UseAssignOrReturn(bool ok) {
  KEEPFS_ASSIGN_OR_RETURN(int n, Number(ok));
  KEEPFS_ASSIGN_OR_RETURN(int m, Number(ok));  // two on nearby lines must not clash
  return n + m;
}

TEST(StatusMacrosTest, ReturnIfErrorPropagates) {
  int reached = 0;
  EXPECT_CODE(UseReturnIfError(/*fail=*/true, &reached), StatusCode::kBusy);
  EXPECT_EQ(reached, 0);
  EXPECT_OK(UseReturnIfError(/*fail=*/false, &reached));
  EXPECT_EQ(reached, 1);
}

TEST(StatusMacrosTest, AssignOrReturnPropagates) {
  Result<int> r = UseAssignOrReturn(true);
  ASSERT_OK(r);
  EXPECT_EQ(*r, 84);
  EXPECT_CODE(UseAssignOrReturn(false), StatusCode::kInvalidArgument);
}

TEST(StatusMacrosTest, TestAssertionsPrintTheStatus) {
  ::testing::AssertionResult r = testing::IsOkFormat("Expr()", Status::Corruption("pack 7 is bad"));
  EXPECT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("corruption: pack 7 is bad"), std::string::npos)
      << r.message();
  EXPECT_TRUE(testing::IsOkFormat("Expr()", Result<int>(3)));
  EXPECT_FALSE(testing::IsOkFormat("Expr()", Result<int>(Status::Busy("b"))));
}

}  // namespace
}  // namespace keepfs

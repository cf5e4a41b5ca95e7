// Whether this build runs under a sanitizer (KEEPFS_SANITIZE, KEEPFS_TSAN).
// Under ASan a process's RSS is mostly shadow memory and a quarantine of
// freed blocks, and under TSan its shadow: memory bounds of ours do not
// hold, so tests report RSS there but do not judge it. Everything else they
// still judge.
#pragma once

namespace keepfs::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace keepfs::testing

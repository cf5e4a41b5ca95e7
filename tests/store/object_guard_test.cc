// ObjectGuard: a hold never forgets what was added (no false negatives, for
// both kinds of hold), holds end with their owner, the deletion counter
// moves, and the exclusive side waits for a lookup in progress.
#include "store/object_guard.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace keepfs {
namespace {

ObjectId Id(uint64_t i) { return Sha256::Of(std::to_string(i)); }

TEST(ObjectGuardTest, HoldsNeverForgetAndEndWithTheirOwner) {
  ObjectGuard guard;
  auto backup = guard.NewBackupHold();
  auto reader = guard.NewReaderHold();
  {
    auto shared = guard.Shared();
    for (uint64_t i = 0; i < 100000; ++i) backup->Add('c', Id(i));
    for (uint64_t i = 0; i < 1000; ++i) reader->Add('c', Id(1000000 + i));
  }
  EXPECT_EQ(guard.hold_count(), 2u);
  auto exclusive = guard.Exclusive();
  for (uint64_t i = 0; i < 100000; ++i) ASSERT_TRUE(guard.IsHeld('c', Id(i))) << i;
  for (uint64_t i = 0; i < 1000; ++i) ASSERT_TRUE(reader->MayHold('c', Id(1000000 + i)));
  EXPECT_FALSE(reader->MayHold('o', Id(1000000))) << "the kind is part of the key";
  int false_positives = 0;
  for (uint64_t i = 0; i < 100000; ++i) false_positives += backup->MayHold('c', Id(2000000 + i));
  EXPECT_LT(false_positives, 100) << "4 MiB for 100k objects: well under 0.1%";
  exclusive.unlock();
  backup.reset();
  reader.reset();
  EXPECT_EQ(guard.hold_count(), 0u);
  auto again = guard.Exclusive();
  EXPECT_FALSE(guard.IsHeld('c', Id(1)));
}

TEST(ObjectGuardTest, TheExclusiveSideWaitsForALookupInProgress) {
  ObjectGuard guard;
  uint64_t before = guard.deletions();
  std::atomic<bool> looking{false}, looked{false};
  std::thread lookup([&] {
    auto shared = guard.Shared();
    looking = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    looked = true;
  });
  while (!looking) std::this_thread::yield();
  {
    auto exclusive = guard.Exclusive();
    EXPECT_TRUE(looked) << "a delete never runs in the middle of a lookup";
    guard.NoteDeletions();
  }
  lookup.join();
  EXPECT_EQ(guard.deletions(), before + 1);
}

}  // namespace
}  // namespace keepfs

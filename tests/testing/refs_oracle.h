// A recount of every user's reference counts and usage account from
// scratch, by the rule of snapshot/accounting.h, compared with what the store
// keeps: the oracle of the accounting, prune and crash tests. Memory grows
// with the store: for tests only.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/content.h"
#include "snapshot/pins.h"
#include "snapshot/repo.h"
#include "snapshot/tree.h"
#include "store/chunk_store.h"
#include "store/coding.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {

// Every `r` key of the store.
inline std::map<std::string, uint64_t> StoredRefCounts(Store* store) {
  std::map<std::string, uint64_t> out;
  auto it = store->kv().NewIterator("r");
  for (; it->Valid(); it->Next()) {
    Decoder dec(it->value());
    uint64_t n = 0;
    EXPECT_TRUE(dec.GetVarint(&n));
    out[std::string(it->key())] = n;
  }
  return out;
}

// The counts recomputed from scratch by the rule of accounting.h (roots:
// every snapshot's tree and every pin's object), the charged objects each
// user holds (kind+id -> stored bytes) and, if asked, the users of every
// object (kind + hex id -> users: what the `h` records must list).
inline std::map<std::string, uint64_t> RecountRefs(
    Store* store, std::map<std::string, std::map<std::string, uint64_t>>* held,
    std::map<std::string, std::set<std::string>>* users_of = nullptr) {
  std::map<std::string, uint64_t> counts;
  snapshot::Repo repo(store);
  auto users = repo.ListUsers();
  EXPECT_OK(users);
  for (const auto& user : *users) {
    auto snaps = repo.ListSnapshots(user);
    EXPECT_OK(snaps);
    std::vector<std::pair<char, ObjectId>> stack;
    for (const auto& s : *snaps) stack.push_back({'t', s.root});
    auto pins = snapshot::ListPins(store, user);  // pins are roots too
    EXPECT_OK(pins);
    for (const auto& p : *pins) {
      if (p.kind != 0) stack.push_back({p.kind, p.id});
    }
    while (!stack.empty()) {
      auto [kind, id] = stack.back();
      stack.pop_back();
      if (id.IsZero()) continue;
      if (counts[snapshot::RefKey(user, kind, id)]++ > 0) continue;
      if (users_of) (*users_of)[kind + id.ToHex()].insert(user);
      if (kind == 't') {
        auto node = repo.GetTreeNode(id);
        EXPECT_OK(node);
        for (const auto& c : node->children) stack.push_back({'t', c.id});
        for (const auto& e : node->entries) {
          if (e.type == snapshot::EntryType::kDir) stack.push_back({'t', e.ref});
          if (e.type == snapshot::EntryType::kFile) stack.push_back({'o', e.ref});
        }
      } else if (kind == 'o') {
        auto c = repo.GetContentRecord(id);  // an alias is an edge to its target
        EXPECT_OK(c);
        if (c->is_alias()) {
          stack.push_back({'o', c->alias_of});
          continue;
        }
        if (c->is_inline) {
          std::string v;
          EXPECT_OK(store->kv().Get(snapshot::ContentKey(id), &v));
          (*held)[user]["o" + id.ToHex()] = v.size();
        }
        for (const auto& p : c->parts) {
          if (!p.is_hole()) stack.push_back({'c', p.chunk});
        }
      } else {
        auto loc = store->chunks().Lookup(id);
        EXPECT_OK(loc);
        (*held)[user]["c" + id.ToHex()] = (*loc)->stored_len;
      }
    }
  }
  return counts;
}

// Checks the stored counts and accounts against a recount; returns the
// recomputed holdings per user.
inline std::map<std::string, snapshot::UserHoldings> ExpectRefsConsistent(Store* store) {
  std::map<std::string, std::map<std::string, uint64_t>> held;
  std::map<std::string, std::set<std::string>> want_holders;  // kind + hex id -> users
  EXPECT_EQ(StoredRefCounts(store), RecountRefs(store, &held, &want_holders))
      << "reference counts differ from a recount";
  std::map<std::string, int> holders;
  for (const auto& [user, objs] : held) {
    for (const auto& [obj, bytes] : objs) ++holders[obj];
  }
  std::map<std::string, std::set<std::string>> got_holders;
  for (auto it = store->kv().NewIterator("h"); it->Valid(); it->Next()) {
    auto id = ObjectId::FromBytes(it->key().substr(2));
    auto users = snapshot::DecodeHolders(it->value());
    EXPECT_OK(id);
    EXPECT_OK(users);
    if (!id.ok() || !users.ok()) continue;
    auto& set = got_holders[std::string(1, it->key()[1]) + id->ToHex()];
    set.insert(users->begin(), users->end());
    EXPECT_EQ(set.size(), users->size()) << "a holder listed twice";
  }
  EXPECT_EQ(got_holders, want_holders) << "holder lists differ from a recount";
  std::map<std::string, snapshot::UserHoldings> want;
  for (const auto& [user, objs] : held) {
    for (const auto& [obj, bytes] : objs) want[user].bytes_by_holders[holders[obj]] += bytes;
    auto got = snapshot::LoadHoldings(store, user);
    EXPECT_OK(got);
    EXPECT_EQ(got->bytes_by_holders, want[user].bytes_by_holders) << user;
  }
  return want;
}

}  // namespace keepfs::testing

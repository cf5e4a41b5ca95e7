// The second half of a check (snapshot/check.h): which users, snapshots and
// paths each problem affects. The damaged set is closed upwards with scans
// of the content and tree records (contents over damaged chunks, aliases
// over damaged contents, trees over damaged trees and contents, to a
// fixpoint), then every snapshot and pin is walked down along damaged
// objects only. Nothing is read when nothing is damaged.
//
// Thread safety: reads only; as CheckStore.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "snapshot/check.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::snapshot {

// problems: the object keys of the problems found ('c', 'o', 't' + id for
// chunks, contents and trees; a pack's key for a pack, which affects what
// its chunks affect). *affects gets, per problem key, every path it reaches.
Status MapAffected(Store* store, const std::set<std::string>& problems,
                   std::map<std::string, std::vector<Affected>>* affects);

}  // namespace keepfs::snapshot

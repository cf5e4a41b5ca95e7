// Pinning and unpinning (snapshot/pins.h has the record). A pin is a root of
// the user's reference counts: pinning adds one reference to the pinned
// object, in the same synced batch as the pin record; unpinning removes it.
// Unpinning in a husk that keeps other pins shrinks the husk to them at once;
// unpinning its last pin leaves it for the next prune to remove.
//
// Thread safety: every function takes the store's commit lock.
#pragma once

#include <cstdint>
#include <string_view>

#include "snapshot/pins.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::gc {

// Pins path (any spelling NormalizePinPath accepts; "" = the whole snapshot)
// in snapshot ("latest" allowed) of user. Pinning what is pinned already
// changes nothing and returns the existing pin. NotFound with advice for an
// unknown user, snapshot or path.
Result<snapshot::Pin> PinPath(Store* store, std::string_view user, std::string_view snapshot,
                              std::string_view path, uint32_t by_uid, int64_t now_sec);

// Removes the pin on exactly path. NotFound (with advice) if there is none.
Status UnpinPath(Store* store, std::string_view user, std::string_view snapshot,
                 std::string_view path);

// Stored bytes the user's pins hold (chunks and inline contents, each once),
// whether or not snapshots hold them too.
Result<uint64_t> PinnedBytes(Store* store, const std::vector<snapshot::Pin>& pins);

}  // namespace keepfs::gc

// RadosPackStore: packs as objects of a Ceph RADOS pool (docs/scale-out.md).
//
//   POOL / NAMESPACE / pack.000000000000012a   one sealed pack; xattr "sha256"
//                                              holds the SHA-256 of its bytes
//   POOL / NAMESPACE / keepfs.store            the marker: xattr "store_id"
//                                              names the one store whose packs
//                                              the namespace holds
//
// A pack is written in one atomic RADOS operation at Seal: exclusive create +
// write_full + setxattr. RADOS acknowledges it once every replica has it, so
// after Seal the pack is durable, and before it nothing is visible: there are
// no partial objects to clean up. A namespace belongs to one store (the
// marker), so two stores can never adopt or remove each other's packs.
//
// Thread safety: as PackStore.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "store/pack_store.h"
#include "store/status.h"

namespace keepfs {

namespace rados {
class Client;
}

// Where a store's packs live in RADOS, and how to reach the cluster.
struct RadosLocation {
  std::string pool;
  std::string ns;         // the namespace; may be empty (the pool's default)
  std::string ceph_conf;  // "" : librados' default search (/etc/ceph/ceph.conf)
  std::string client = "admin";  // the cephx user without "client."
  // Seconds before a monitor or OSD operation fails instead of waiting on a
  // sick cluster (librados' rados_mon_op_timeout / rados_osd_op_timeout).
  int op_timeout_sec = 120;

  // "rados:POOL/NAMESPACE" (or "rados:POOL").
  std::string Spec() const;
};

// Parses "rados:POOL/NAMESPACE" or "rados:POOL". InvalidArgument saying what
// a spec looks like otherwise.
Result<RadosLocation> ParseRadosSpec(std::string_view spec);

// Connects to the cluster and opens loc's pool and namespace. With
// create_marker (keepfs init) the namespace must be free of another store's
// marker and of packs, and the marker is created for store_id; otherwise the
// marker must name store_id. IoError with advice when the cluster cannot be
// reached, NotFound when the pool does not exist, InvalidArgument when the
// namespace belongs to another store.
// With store_id "" and no create_marker, any store's marker is accepted
// (keepfs attach, which learns the id from it: RadosStoreIdOf).
Result<std::unique_ptr<PackStore>> OpenRadosPackStore(const RadosLocation& loc,
                                                      const std::string& store_id,
                                                      bool create_marker);

// The connection of a RADOS pack store, for the shard (store/shard.h) to
// share; nullptr for a local one.
rados::Client* RadosClientOf(PackStore* packs);
// The store id its marker names ("" for a local pack store).
std::string RadosStoreIdOf(PackStore* packs);

}  // namespace keepfs

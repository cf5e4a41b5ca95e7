// keepfs init: create a store. keepfs attach: a local copy of a store on RADOS.
#include <CLI/CLI.hpp>

#include <ostream>

#include "tools/cli/common.h"

namespace keepfs::cli {

namespace {
struct InitArgs {
  uint32_t chunk_min = 256 * 1024;
  uint32_t chunk_avg = 1024 * 1024;
  uint32_t chunk_max = 4 * 1024 * 1024;
  uint32_t inline_max = 4096;
  int level = 3;
  std::string packs = "local";
  std::string ceph_conf;
  std::string ceph_client = "admin";
};

int RunInit(Context& ctx, const InitArgs& a) {
  return Run(ctx, [&]() -> Status {
    if (ctx.store_dir.empty()) {
      return Status::InvalidArgument("no store given: pass --store DIR or set KEEPFS_STORE");
    }
    InitOptions o;
    o.chunker = {a.chunk_min, a.chunk_avg, a.chunk_max};
    o.inline_max = a.inline_max;
    o.compression_level = a.level;
    if (a.packs != "local") o.packs = a.packs;
    o.ceph_conf = a.ceph_conf;
    o.ceph_client = a.ceph_client;
    if (o.packs.empty() && (!a.ceph_conf.empty() || a.ceph_client != "admin")) {
      return Status::InvalidArgument("--ceph-conf and --ceph-client go with --packs rados:POOL/NS");
    }
    if (a.inline_max > (1u << 20)) return Status::InvalidArgument("--inline-max is at most 1 MiB");
    KEEPFS_RETURN_IF_ERROR(Store::Init(ctx.store_dir, o));
    if (!ctx.quiet) {
      ctx.io.out << "created keepfs store at " << ctx.store_dir << " (chunks "
                 << HumanBytes(a.chunk_min) << " / " << HumanBytes(a.chunk_avg) << " / "
                 << HumanBytes(a.chunk_max) << ", zstd " << a.level << ", packs "
                 << (o.packs.empty() ? std::string("in ") + ctx.store_dir + "/packs" : o.packs)
                 << ")\n";
    }
    return Status::OK();
  });
}
struct AttachArgs {
  std::string packs;
  std::string ceph_conf;
  std::string ceph_client = "admin";
};

int RunAttach(Context& ctx, const AttachArgs& a) {
  return Run(ctx, [&]() -> Status {
    if (ctx.store_dir.empty()) {
      return Status::InvalidArgument("no store given: pass --store DIR or set KEEPFS_STORE");
    }
    AttachOptions o;
    o.packs = a.packs;
    o.ceph_conf = a.ceph_conf;
    o.ceph_client = a.ceph_client;
    KEEPFS_RETURN_IF_ERROR(Store::Attach(ctx.store_dir, o));
    if (!ctx.quiet) {
      ctx.io.out << "attached " << ctx.store_dir << " to the keepfs store in " << a.packs
                 << ": its metadata was rebuilt from the store's journal there\n";
    }
    return Status::OK();
  });
}
}  // namespace

void RegisterAttach(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<AttachArgs>();
  CLI::App* c = app.add_subcommand(
      "attach",
      "Make --store DIR (new or empty) this node's copy of a store whose packs are in RADOS: "
      "take the store over and rebuild its metadata from RADOS (docs/scale-out.md)");
  c->add_option("packs", args->packs, "rados:POOL/NAMESPACE given to 'keepfs init --packs'")
      ->required();
  c->add_option("--ceph-conf", args->ceph_conf,
                "ceph.conf of the cluster (default: librados' search, /etc/ceph/ceph.conf)");
  c->add_option("--ceph-client", args->ceph_client, "Ceph user, without client.")
      ->capture_default_str();
  c->callback([&ctx, args] { ctx.exit_code = RunAttach(ctx, *args); });
}

void RegisterInit(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* c = app.add_subcommand(
      "init", "Create a new, empty store in --store DIR (created if missing; must not hold a store)");
  c->add_option("--chunk-min", args->chunk_min, "Smallest chunk in bytes (fixed for the store)")
      ->capture_default_str();
  c->add_option("--chunk-avg", args->chunk_avg,
                "Average chunk in bytes, a power of two (fixed for the store)")
      ->capture_default_str();
  c->add_option("--chunk-max", args->chunk_max, "Largest chunk in bytes (fixed for the store)")
      ->capture_default_str();
  c->add_option("--inline-max", args->inline_max,
                "Files up to this size are stored inside the metadata, not in packs (fixed)")
      ->capture_default_str();
  c->add_option("--compression", args->level, "zstd level 1-19 for new data (config.toml)")
      ->capture_default_str()
      ->check(CLI::Range(1, 19));
  c->add_option("--packs", args->packs,
                "Where packs live (fixed): local (DIR/packs) or rados:POOL/NAMESPACE, an empty "
                "namespace of an existing Ceph pool; the metadata stays in DIR")
      ->capture_default_str();
  c->add_option("--ceph-conf", args->ceph_conf,
                "ceph.conf of the cluster for --packs rados (default: librados' search, "
                "/etc/ceph/ceph.conf)");
  c->add_option("--ceph-client", args->ceph_client, "Ceph user for --packs rados, without client.")
      ->capture_default_str();
  c->callback([&ctx, args] { ctx.exit_code = RunInit(ctx, *args); });
}

}  // namespace keepfs::cli

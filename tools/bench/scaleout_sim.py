#!/usr/bin/env python3
"""keepfs scale-out: measure the per-node figures on this machine, and extrapolate them to a cluster.

    scaleout_sim.py [sim] [--users N] [--data-pb P] ... [--json]     extrapolate (the default)
    scaleout_sim.py measure --keepfs BIN --work DIR [--scale S]      generate a home-directory mix,
                                                                     back it up twice, print the figures
    scaleout_sim.py make-home DIR [--scale S] [--seed N]             the data set alone
    scaleout_sim.py modify DIR [--fraction F] [--seed N]             change ~F of it in place

Stdlib only. docs/scale-out.md explains the model and holds this script's output. Every default of
`sim` names its source: (M) measured by `measure` on the 2-core dev machine, (D) from a doc of this
repository, (A) an assumption, to be replaced by a measurement when one exists.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import time

MIB = 1 << 20
GIB = 1 << 30
TB = 10**12
PB = 10**15
DAY1 = 1790996400  # 2026-10-03 03:00 UTC: fixed mtimes, so reruns give the same files cache

# ---------------------------------------------------------------------------------------------
# The data set: a synthetic home directory.
#
# Many small files, fewer medium ones, a few large ones; text-like data (compressible) and
# media-like data (random bytes, incompressible). Sizes are log-uniform within each class.
# At scale 1: ~40,000 small (100 B-64 KiB), 600 medium (64 KiB-8 MiB), 4 large (96-320 MiB),
# about 2.4 GB in ~1,700 folders up to 6 deep.
# ---------------------------------------------------------------------------------------------

SMALL = (40000, 100, 64 << 10)
MEDIUM = (600, 64 << 10, 8 << 20)
LARGE_MIB = (96, 160, 224, 320)
TEXT_SHARE = 0.6  # of small and medium files; large files are media (random), except the first

# English-like byte frequencies for text: random bytes mapped through this table compress to
# roughly half (zstd -3), like mixed documents and source code (real text compresses better,
# office files and mail with attachments worse).
_ALPH = (b"eeeeeeeeeeeetttttttttaaaaaaaaooooooooiiiiiiinnnnnnnsssssshhhhhhrrrrrrddddlllluuucccmmmwwff"
         b"ggyyppbbvk           " + b" " * 24 + b"\n\n\n\n,,..EETTAAOOIINNSSRRHH0123456789()=;:_-\"'/")
_TABLE = bytes(_ALPH[i % len(_ALPH)] for i in range(256))


def _log_uniform(rng, lo, hi):
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _payload(rng, size, text):
    b = rng.randbytes(size)
    return b.translate(_TABLE) if text else b


def _folders(rng, n):
    """n folder paths in a tree up to 6 deep, named like a home directory's."""
    tops = ["Documents", "Pictures", "Music", "Videos", "Downloads", "src", "Desktop", ".config",
            ".cache", ".local/share", "Projects", "Mail"]
    out = list(tops)
    while len(out) < n:
        parent = rng.choice(out)
        if parent.count("/") >= 5:
            continue
        out.append(f"{parent}/d{len(out):04d}")
    return out


def make_home(root, scale=1.0, seed=1):
    rng = random.Random(seed)
    os.makedirs(root, exist_ok=False)
    folders = _folders(rng, max(12, int(1700 * scale)))
    for f in folders:
        os.makedirs(os.path.join(root, f), exist_ok=True)
    files = []
    n_small = max(100, int(SMALL[0] * scale))
    n_med = max(10, int(MEDIUM[0] * scale))
    for i in range(n_small):
        files.append((f"{rng.choice(folders)}/s{i:06d}", _log_uniform(rng, SMALL[1], SMALL[2]),
                      rng.random() < TEXT_SHARE))
    for i in range(n_med):
        files.append((f"{rng.choice(folders)}/m{i:05d}", _log_uniform(rng, MEDIUM[1], MEDIUM[2]),
                      rng.random() < TEXT_SHARE))
    for i, mib in enumerate(LARGE_MIB):
        files.append((f"Videos/big{i}.bin", int(mib * MIB * scale), i == 0))
    total = 0
    for rel, size, text in files:
        p = os.path.join(root, rel)
        with open(p, "wb") as fh:
            left = size
            while left:
                n = min(left, 16 * MIB)
                fh.write(_payload(rng, n, text))
                left -= n
        os.utime(p, (DAY1, DAY1))
        total += size
    return {"files": len(files), "folders": len(folders), "bytes": total,
            "inline_files": sum(1 for _, s, _ in files if s <= 4096),
            "inline_bytes": sum(s for _, s, _ in files if s <= 4096)}


def modify(root, fraction=0.05, seed=2):
    """Change about `fraction` of the files and of the bytes: small files rewritten, medium and large
    files get bytes inserted in the middle (every chunk after the insertion point moves, which
    content-defined chunking absorbs), plus fraction/5 new files and fraction/5 deleted."""
    rng = random.Random(seed)
    paths = []
    for d, _, names in os.walk(root):
        for n in names:
            paths.append(os.path.join(d, n))
    paths.sort()
    changed = added = deleted = 0
    bytes_touched = 0
    for p in paths:
        r = rng.random()
        size = os.path.getsize(p)
        if r < fraction:
            text = b"\0" not in open(p, "rb").read(256) and size > 0
            if size <= (64 << 10):
                with open(p, "wb") as fh:
                    fh.write(_payload(rng, size, text))
            else:
                with open(p, "rb") as fh:
                    data = fh.read()
                mid = rng.randrange(size)
                with open(p, "wb") as fh:
                    fh.write(data[:mid] + _payload(rng, rng.randrange(1, 4096), text) + data[mid:])
            changed += 1
            bytes_touched += size
        elif r < fraction * 1.2:
            os.unlink(p)
            deleted += 1
        elif r < fraction * 1.4:
            size = _log_uniform(rng, SMALL[1], SMALL[2])
            with open(p + ".new", "wb") as fh:
                fh.write(_payload(rng, size, True))
            added += 1
            bytes_touched += size
    return {"changed": changed, "added": added, "deleted": deleted, "bytes_touched": bytes_touched,
            "files_before": len(paths)}


# ---------------------------------------------------------------------------------------------
# measure: run keepfs on the data set and report what the metadata and packs take.
# ---------------------------------------------------------------------------------------------

def _du(path):
    total = sst = 0
    for d, _, names in os.walk(path):
        for n in names:
            s = os.lstat(os.path.join(d, n)).st_blocks * 512
            total += s
            if n.endswith(".sst"):
                sst += s
    return total, sst


def _apparent(path):
    return sum(os.lstat(os.path.join(d, n)).st_size for d, _, ns in os.walk(path) for n in ns)


def measure(keepfs, work, scale, workers):
    src = os.path.join(work, "home")
    store = os.path.join(work, "store")
    out = {"scale": scale}
    if not os.path.isdir(src):
        t = time.time()
        out["dataset"] = make_home(src, scale)
        out["dataset"]["make_s"] = round(time.time() - t, 1)
    else:
        out["dataset"] = {"reused": src}
    subprocess.run([keepfs, "-q", "init", "--store", store], check=True)

    def backup(tag):
        t = time.time()
        cmd = [keepfs, "-q", "backup", "--store", store, "--user", "u1", "--json", src]
        if workers:
            cmd[4:4] = ["--workers", str(workers)]
        r = subprocess.run(cmd, check=True, capture_output=True, text=True)
        wall = time.time() - t
        meta, meta_sst = _du(os.path.join(store, "meta"))
        packs = _apparent(os.path.join(store, "packs"))
        npacks = sum(len(ns) for _, _, ns in os.walk(os.path.join(store, "packs")))
        stats = subprocess.run([keepfs, "stats", "--store", store, "--json"], check=True,
                               capture_output=True, text=True).stdout
        row = {"wall_s": round(wall, 2), "summary": json.loads(r.stdout), "meta_du": meta,
               "meta_sst": meta_sst, "packs_bytes": packs, "packs": npacks}
        try:
            row["stats"] = json.loads(stats)
        except ValueError:
            row["stats"] = stats
        out[tag] = row
        print(f"[measure] {tag}: {wall:.1f} s, meta {meta/MIB:.1f} MiB (sst {meta_sst/MIB:.1f}), "
              f"packs {packs/MIB:.1f} MiB in {npacks}", file=sys.stderr)

    backup("first")
    backup("unchanged")
    out["modified"] = modify(src, 0.05)
    backup("incremental")
    return out


# ---------------------------------------------------------------------------------------------
# sim: the cluster model.
# ---------------------------------------------------------------------------------------------

def sim_args(p):
    a = p.add_argument
    # --- the deployment (A: the target of issue 10)
    a("--users", type=int, default=10000, help="(A) users")
    a("--data-pb", type=float, default=1.0, help="(A) logical bytes of every user's latest "
      "snapshot, PB (10,000 users x 100 GB)")
    a("--users-per-shard", type=int, default=100, help="(A) users per shard")
    # --- the data, measured on the synthetic home mix (M: `measure`, docs/scale-out.md)
    a("--avg-file-kb", type=float, default=55.5, help="(M) mean file size of the measured mix: "
      "2,254.8 MB in 40,604 files. Real homes are often 100-300 KB (A)")
    a("--meta-per-file-b", type=float, default=844.0, help="(M) RocksDB sst bytes per file after "
      "the first backup: 34,271,232 / 40,604, with the 23,026 files <= 4 KiB inlined (about half of "
      "it: 20,108,284 B with --inline-max 0)")
    a("--keys-per-file", type=float, default=5.95, help="(M) RocksDB keys per file: o,r,h,f per "
      "file, F per chunked file, c,r,h per chunk, t,r,h per tree (counts from `keepfs stats`)")
    a("--chunks-per-file", type=float, default=0.464, help="(M) 18,836 chunks / 40,604 files")
    a("--stored-ratio", type=float, default=0.824, help="(M) pack bytes / logical bytes, first "
      "backup of the mix (60%% text-like, 40%% incompressible); docs/performance.md's real data: 0.34")
    a("--incr-meta-per-written-file-b", type=float, default=1518.0, help="(M) metadata an "
      "incremental snapshot adds per file written (changed or new): 3,854,336 B / 2,539, with the "
      "changes spread uniformly over 1,700 folders (89%% of the trees rewritten): an upper bound")
    # --- churn and retention (A)
    a("--daily-files-written", type=float, default=0.01, help="(A) fraction of a user's files "
      "changed or new per night (the benchmark's day 2: 3%%; the measured run: 6.25%%)")
    a("--daily-new-stored", type=float, default=0.005, help="(A) stored bytes a night adds, as a "
      "fraction of logical bytes (measured 5%% run: 1.9%% of the first backup's packs)")
    a("--retained-daily", type=int, default=30, help="(A) daily snapshots kept")
    a("--retained-monthly", type=int, default=12, help="(A) monthly snapshots kept")
    a("--monthly-delta-nights", type=float, default=10.0, help="(A) a monthly snapshot's own "
      "metadata and data, in nights' worth (changes overlap within a month)")
    a("--rocksdb-space-amp", type=float, default=1.1, help="(A) leveled compaction's space "
      "amplification at steady state")
    # --- per-node costs (D: docs of this repository; M: this run)
    a("--ingest-mbs-core", type=float, default=100.0, help="(D) new bytes chunked+hashed+"
      "compressed per core-second: 170 MB/s with 1.7 of 2 cores busy, docs/performance.md "
      "(zstd-3 is 64%% of the profile). The measured mix ran at 165 MB per CPU-second (M)")
    a("--scan-files-s-core", type=float, default=50000.0, help="(D) unchanged files per "
      "core-second through the files cache: 100k files in 1.03 s on 2 cores, docs/performance.md "
      "(M here: 40,604 in 0.39 s wall)")
    a("--commit-records-s", type=float, default=140000.0, help="(D) count/holder records a commit "
      "writes per second: 225k in 1.4-1.8 s, docs/accounting.md")
    a("--commit-records-per-file", type=float, default=2.25, help="(D) count and holder records a "
      "commit writes per new file: 225,000 for 100,000 files, docs/accounting.md")
    a("--rados-put-mbs", type=float, default=800.0, help="(D) sealed 4 MiB puts, 4 in flight, "
      "one client, one BlueStore OSD on loopback: 818-866 MB/s, docs/ceph-dev.md")
    a("--rados-op-ms", type=float, default=1.0, help="(D) one small RADOS write (4 KiB put, "
      "guarded commit): 0.6-1.2 ms median on BlueStore, docs/ceph-dev.md")
    a("--pack-mib", type=float, default=32.0, help="(D) pack size: sealed past 32 MiB, "
      "docs/architecture.md")
    a("--forget-ms-per-file", type=float, default=0.22, help="(D) forget of one day per file that "
      "day rewrote: 0.45 s for 2,000 files in the 64k-file gc run, docs/performance.md")
    a("--gc-candidates-per-batch", type=int, default=2048, help="(D) docs/gc.md")
    a("--compaction-write-amp", type=float, default=10.0, help="(A) bytes of new SST per byte "
      "of metadata written (leveled RocksDB); each new SST goes to RADOS with the checkpoint")
    a("--rebuild-mbs", type=float, default=1000.0, help="(A) takeover rebuild: checkpoint SSTs "
      "fetched from RADOS in parallel (NIC-bound), opened as they are")
    # --- node shape (A)
    a("--cores", type=int, default=16, help="(A) cores per keepfs node")
    a("--node-ram-gib", type=float, default=128.0, help="(A) RAM per keepfs node")
    a("--node-nvme-tb", type=float, default=7.68, help="(A) local NVMe per node for shard caches")
    a("--nic-gbit", type=float, default=25.0, help="(A) NIC per node")
    a("--window-h", type=float, default=6.0, help="(A) nightly backup window")
    a("--cpu-headroom", type=float, default=0.6, help="(A) share of a node's cores the window may use")
    a("--mem-fixed-per-shard-mib", type=float, default=512.0, help="(D) an open shard: 64 MiB "
      "block cache + 2x32 MiB memtables (docs/format.md [mount]), 256 MiB chunk cache, ~100 MiB "
      "gc peak (docs/performance.md)")
    a("--filter-index-b-per-key", type=float, default=1.7, help="(A) RocksDB bloom filter (10 "
      "bits) + index partitions per key")
    a("--hot-filter-share", type=float, default=0.25, help="(A) share of a shard's filters and "
      "index that must stay in its block cache for ingest lookups to stay in memory")
    a("--mem-per-ingest-worker-mib", type=float, default=75.0, help="(D) 150 MiB peak RSS for 2 "
      "workers, docs/performance.md")
    a("--spare-nodes", type=float, default=0.1, help="(A) extra nodes for failover, share of nodes")
    # --- global chunk index (A)
    a("--gidx-entry-b", type=float, default=80.0, help="(A) bytes per entry of a global chunk "
      "index in RADOS omap: 32 B id, shard, pack, offset, per-shard reference bits, omap overhead")
    a("--gidx-replicas", type=int, default=3, help="(A) pool replication")
    a("--gidx-batch", type=int, default=64, help="(A) lookups per omap read op")
    a("--large-file-mib", type=float, default=4.0, help="(A) a file-level index covers files at "
      "least this big")
    a("--large-file-share", type=float, default=0.61, help="(M) share of bytes in files >= 4 MiB "
      "in the measured mix (1,373 MB of 2,255)")
    a("--large-files-per-tb", type=float, default=41700.0, help="(M) files >= 4 MiB per TB in the "
      "measured mix (94 of 40,604 files per 2.25 GB)")
    a("--xdup", default="0,0.01,0.02,0.05,0.1,0.2,0.3", help="cross-shard duplicate fractions")
    a("--shard-sizes", default="25,50,100,200,400", help="users per shard to tabulate")
    a("--file-sizes", default="20,55.5,100,200,500", help="mean file sizes, KB, to tabulate")
    a("--json", action="store_true")


def model(a, users_per_shard=None, avg_file_kb=None):
    ups = users_per_shard or a.users_per_shard
    fkb = avg_file_kb or a.avg_file_kb
    logical = a.data_pb * PB
    shards = math.ceil(a.users / ups)
    shard_logical = logical / shards
    files_per_user = logical / a.users / (fkb * 1e3)
    files_shard = files_per_user * ups
    nights = a.retained_daily + a.retained_monthly * a.monthly_delta_nights
    written_shard = files_shard * a.daily_files_written
    meta_first = files_shard * a.meta_per_file_b
    meta_night = written_shard * a.incr_meta_per_written_file_b
    meta_shard = (meta_first + nights * meta_night) * a.rocksdb_space_amp
    keys_shard = files_shard * a.keys_per_file * (meta_shard / a.rocksdb_space_amp / meta_first)
    stored_first = shard_logical * a.stored_ratio
    new_stored_night = shard_logical * a.daily_new_stored
    stored_shard = stored_first + nights * new_stored_night
    window_s = a.window_h * 3600
    # nightly work of one shard, in core-seconds
    ingest_cs = shard_logical * a.daily_new_stored / a.stored_ratio / 1e6 / a.ingest_mbs_core
    scan_cs = files_shard / a.scan_files_s_core
    commit_cs = written_shard * a.commit_records_per_file / a.commit_records_s
    night_cs = ingest_cs + scan_cs + commit_cs
    forget_s = written_shard * a.forget_ms_per_file / 1000
    # resources of one shard
    mem_shard = (a.mem_fixed_per_shard_mib * MIB
                 + keys_shard * a.filter_index_b_per_key * a.hot_filter_share)
    by_cpu = math.floor(a.cpu_headroom * a.cores * window_s / (night_cs + forget_s))
    by_ram = math.floor((a.node_ram_gib * GIB - a.cores * a.mem_per_ingest_worker_mib * MIB
                         - 4 * GIB) / mem_shard)
    by_nvme = math.floor(a.node_nvme_tb * TB * 0.8 / meta_shard)
    nic_bs = a.nic_gbit * 1e9 / 8 * 0.6
    by_nic = math.floor(nic_bs * window_s / (new_stored_night + meta_night * 2))
    per_node = max(1, min(by_cpu, by_ram, by_nvme, by_nic))
    limit = min((by_cpu, "cpu"), (by_ram, "ram"), (by_nvme, "nvme"), (by_nic, "nic"))[1]
    nodes = math.ceil(shards / per_node)
    return {
        "users_per_shard": ups, "avg_file_kb": fkb, "shards": shards,
        "logical_per_shard_tb": shard_logical / TB, "files_per_shard_m": files_shard / 1e6,
        "stored_per_shard_tb": stored_shard / TB, "stored_total_pb": stored_shard * shards / PB,
        "meta_per_tb_logical_gb": meta_first / (shard_logical / TB) / 1e9,
        "meta_first_snapshot_gb": meta_first / 1e9, "meta_per_night_gb": meta_night / 1e9,
        "meta_per_shard_gb": meta_shard / 1e9, "meta_total_tb": meta_shard * shards / TB,
        "keys_per_shard_b": keys_shard / 1e9, "rebuild_min": meta_shard / (a.rebuild_mbs * 1e6) / 60,
        "night_core_s": {"ingest": ingest_cs, "scan": scan_cs, "commit": commit_cs,
                         "forget": forget_s},
        "mem_per_shard_gib": mem_shard / GIB,
        "shards_per_node": {"cpu": by_cpu, "ram": by_ram, "nvme": by_nvme, "nic": by_nic},
        "per_node": per_node, "limit": limit, "nodes": nodes,
        "nodes_with_spares": nodes + max(1, math.ceil(nodes * a.spare_nodes)),
        "window_h_used": per_node * (night_cs + forget_s) / a.cores / 3600,
        "mem_per_node_gib": (per_node * mem_shard + a.cores * a.mem_per_ingest_worker_mib * MIB
                             + 4 * GIB) / GIB,
        "nvme_per_node_tb": per_node * meta_shard / TB,
        "new_stored_night_gb": new_stored_night / 1e9, "written_files_night_m": written_shard / 1e6,
    }


def simulate(a):
    r = {"inputs": {k: v for k, v in vars(a).items() if k not in ("json", "cmd")}}
    m = model(a)
    r["base"] = m
    window_s = a.window_h * 3600
    logical = a.data_pb * PB
    shards = m["shards"]
    # RADOS operations, whole cluster, one night
    new_stored = m["new_stored_night_gb"] * 1e9 * shards
    pack_puts = new_stored / (a.pack_mib * MIB)
    meta_puts = a.users  # one sealed metadata pack per snapshot
    meta_bytes = m["meta_per_night_gb"] * 1e9 * shards
    # (A) at steady state a night frees what it adds: per written file one content and its chunks,
    # plus ~30% for tree nodes
    cand_shard = m["written_files_night_m"] * 1e6 * (1 + a.chunks_per_file) * 1.3
    gc_batches = cand_shard * shards / a.gc_candidates_per_batch
    ckpt_bytes = meta_bytes * a.compaction_write_amp
    r["rados"] = {
        "data_put_tb_night": new_stored / TB, "data_put_gbs_in_window": new_stored / window_s / 1e9,
        "pack_puts_night": pack_puts, "pack_removes_night": pack_puts,
        "meta_pack_puts_night": meta_puts, "meta_pack_tb_night": meta_bytes / TB,
        "guarded_commits_night": meta_puts + gc_batches,
        "guarded_commits_per_s_in_window": (meta_puts + gc_batches) / window_s,
        "checkpoint_sst_tb_night": ckpt_bytes / TB,
        "lease_renewals_per_s": shards / 10.0,
        "objects_m": (m["stored_total_pb"] * PB / (a.pack_mib * MIB)
                      + shards * (a.retained_daily + a.retained_monthly) * 2) / 1e6,
        "meta_in_rados_tb_x3": m["meta_total_tb"] * 3,
    }
    r["gc"] = {
        "forget_s_per_shard": m["night_core_s"]["forget"],
        "candidates_per_shard_night_m": cand_shard / 1e6,
        "guarded_gc_commits_per_shard": gc_batches / shards,
        "pack_removes_per_shard": pack_puts / shards,
        "rados_s_per_shard": (gc_batches / shards + pack_puts / shards) * a.rados_op_ms / 1000,
    }
    # global chunk index
    stored_total = m["stored_total_pb"] * PB
    chunks_total = logical / (a.avg_file_kb * 1e3) * a.chunks_per_file \
        * (stored_total / (logical * a.stored_ratio))
    new_chunks = new_stored / (stored_total / chunks_total)
    lf_entries = a.large_files_per_tb * logical / TB * (stored_total / (logical * a.stored_ratio))
    r["global_index"] = {
        "chunk_entries_b": chunks_total / 1e9,
        "chunk_index_tb_raw": chunks_total * a.gidx_entry_b * a.gidx_replicas / TB,
        "chunk_lookups_night_m": new_chunks / 1e6,
        "chunk_lookup_ops_night_m": new_chunks / a.gidx_batch / 1e6,
        "chunk_ref_updates_night_m": 2 * new_chunks / 1e6,
        "file_entries_m": lf_entries / 1e6,
        "file_index_gb_raw": lf_entries * a.gidx_entry_b * a.gidx_replicas / 1e9,
        "rows": [{"xdup": x, "saved_tb": stored_total * x / TB,
                  "saved_raw_tb_x3": stored_total * x * a.gidx_replicas / TB,
                  "file_index_saved_tb": stored_total * x * a.large_file_share / TB,
                  "index_cost_share_of_gain": (chunks_total * a.gidx_entry_b / (stored_total * x))
                  if x else None}
                 for x in (float(v) for v in a.xdup.split(","))],
    }
    r["by_shard_size"] = [model(a, users_per_shard=int(s)) for s in a.shard_sizes.split(",")]
    r["by_file_size"] = [model(a, avg_file_kb=float(s)) for s in a.file_sizes.split(",")]
    return r


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 1:
            return f"{v:.2f}".rstrip("0").rstrip(".")
        return f"{v:.2g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(title, rows, cols):
    print(f"\n{title}\n")
    print("| " + " | ".join(h for h, _ in cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(fmt(f(row)) for _, f in cols) + " |")


def kv(title, d):
    table(title, d.items(), [("quantity", lambda x: x[0]), ("value", lambda x: x[1])])


def print_tables(r):
    m = r["base"]
    flat = {k: v for k, v in m.items() if not isinstance(v, dict)}
    flat.update({f"night_core_s.{k}": v for k, v in m["night_core_s"].items()})
    flat.update({f"shards_per_node.{k}": v for k, v in m["shards_per_node"].items()})
    kv("Per shard and per node, with the defaults:", flat)
    kv("RADOS, whole cluster, one night:", r["rados"])
    kv("GC per shard, one night:", r["gc"])
    g = r["global_index"]
    kv("Global index, whole cluster:", {k: v for k, v in g.items() if k != "rows"})
    table("Gain of a global index by cross-shard duplicate fraction:", g["rows"], [
        ("cross-shard dup", lambda x: x["xdup"]), ("chunk index saves, TB", lambda x: x["saved_tb"]),
        ("raw TB at 3x", lambda x: x["saved_raw_tb_x3"]),
        ("file-level index (>= 4 MiB) saves, TB", lambda x: x["file_index_saved_tb"]),
        ("chunk index bytes / bytes saved", lambda x: x["index_cost_share_of_gain"])])
    cols = [("users/shard", lambda x: x["users_per_shard"]), ("shards", lambda x: x["shards"]),
            ("TB logical/shard", lambda x: x["logical_per_shard_tb"]),
            ("meta GB/shard", lambda x: x["meta_per_shard_gb"]),
            ("rebuild min", lambda x: x["rebuild_min"]),
            ("GiB RAM/shard", lambda x: x["mem_per_shard_gib"]),
            ("shards/node", lambda x: x["per_node"]), ("limit", lambda x: x["limit"]),
            ("nodes (+spares)", lambda x: f'{x["nodes"]} ({x["nodes_with_spares"]})'),
            ("window h used", lambda x: x["window_h_used"])]
    table("By shard size:", r["by_shard_size"], cols)
    table("By mean file size (metadata is per file):", r["by_file_size"], [
        ("mean file KB", lambda x: x["avg_file_kb"]),
        ("meta GB per TB (first snapshot)", lambda x: x["meta_per_tb_logical_gb"]),
        ("meta TB total", lambda x: x["meta_total_tb"])] + cols[3:])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("sim", help="extrapolate (the default)")
    sim_args(s)
    m = sub.add_parser("measure", help="measure metadata and pack bytes on a synthetic home mix")
    m.add_argument("--keepfs", required=True)
    m.add_argument("--work", required=True)
    m.add_argument("--scale", type=float, default=1.0)
    m.add_argument("--workers", type=int, default=0)
    g = sub.add_parser("make-home")
    g.add_argument("dir")
    g.add_argument("--scale", type=float, default=1.0)
    g.add_argument("--seed", type=int, default=1)
    mo = sub.add_parser("modify")
    mo.add_argument("dir")
    mo.add_argument("--fraction", type=float, default=0.05)
    mo.add_argument("--seed", type=int, default=2)
    argv = sys.argv[1:]
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["sim"] + argv
    a = p.parse_args(argv)
    if a.cmd == "sim":
        r = simulate(a)
        if a.json:
            json.dump(r, sys.stdout, indent=1)
            print()
        else:
            print_tables(r)
    elif a.cmd == "measure":
        json.dump(measure(a.keepfs, a.work, a.scale, a.workers), sys.stdout, indent=1)
        print()
    elif a.cmd == "make-home":
        print(json.dumps(make_home(a.dir, a.scale, a.seed)))
    elif a.cmd == "modify":
        print(json.dumps(modify(a.dir, a.fraction, a.seed)))


if __name__ == "__main__":
    main()

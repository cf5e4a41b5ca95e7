#!/usr/bin/env python3
"""Generate the keepfs benchmark dataset, deterministically, from real files on this machine.

    make_data.py OUT_DIR [--scale S] [--seed N] [--force]

Writes into OUT_DIR:
  alice/       day 1 of user alice: /usr/share (locale dirs left out), /usr/lib/python3.11, the five
               largest distinct shared libraries of /usr/lib/x86_64-linux-gnu, and big/binaries.img,
               ~1 GiB of concatenated real binaries (/usr/bin/*, /usr/lib/x86_64-linux-gnu/*.so*)
  bob/         ~90% of alice's files (every large file among them) plus unique files worth ~7% of
               alice's bytes (the locale dirs alice lacks, /usr/include)
  alice-day2/  alice with 2% of files modified (a few bytes inserted in the middle; big/binaries.img
               and two of the libraries always among them), 1% deleted, 1% new
  many/        100,000 small files (scale * 100k, at least 2000) cut from real text
  manifest.json  counts and bytes of every tree, read by run.sh

Real data compresses and deduplicates like real backups do; random bytes would not. Output depends
only on the seed, the scale and the files installed on the machine. Every tree is made of plain,
independent copies (no hard links). Unchanged files keep the same mtime in every tree, so
`rsync -a` from one tree onto a copy of another rewrites only what really changed.

At scale < 1 a proportional subset is taken: each small file is kept with probability `scale`
(decided by a hash of its path), and the large files are cut to `scale` of their size.
"""
import argparse
import calendar
import glob
import hashlib
import json
import math
import os
import random
import shutil
import stat
import sys
import time

GENERATOR_VERSION = 1
GIB = 1 << 30
LARGE = 8 << 20  # files at least this big count as "large"
DAY1 = calendar.timegm((2026, 10, 3, 3, 0, 0))
DAY2 = DAY1 + 86400
SKIP_DIR_NAMES = {"locale", "locales"}
LIBDIR = "/usr/lib/x86_64-linux-gnu"
BUF = 1 << 20


def hfrac(seed, key):
    """A uniform number in [0, 1) fixed by (seed, key): subsets that do not depend on walk order."""
    d = hashlib.sha256(f"{seed}:{key}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(d[:8], "big") / 2.0**64


def walk(root, skip_names=()):
    """Sorted (relpath, is_link) of regular files and symlinks under root; skips dirs in skip_names."""
    out = []

    def rec(d, rel):
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            r = os.path.join(rel, e.name) if rel else e.name
            if e.is_symlink():
                out.append((r, True))
            elif e.is_dir(follow_symlinks=False):
                if e.name not in skip_names:
                    rec(e.path, r)
            elif e.is_file(follow_symlinks=False):
                out.append((r, False))

    rec(root, "")
    return out


def set_mtime(path, t):
    os.utime(path, ns=(t * 10**9, t * 10**9), follow_symlinks=False)


def copy_entry(src, dst, is_link, mtime_ns=None):
    """Copy one file or symlink; returns bytes of file data written (0 for links)."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if is_link:
        os.symlink(os.readlink(src), dst)
        set_mtime(dst, DAY1)
        return 0
    shutil.copyfile(src, dst)
    if mtime_ns is None:
        mtime_ns = os.stat(src).st_mtime_ns
    os.utime(dst, ns=(mtime_ns, mtime_ns))
    return os.path.getsize(dst)


def copy_prefix(src, dst, nbytes):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(src, "rb") as f, open(dst, "wb") as g:
        left = nbytes
        while left > 0:
            b = f.read(min(BUF, left))
            if not b:
                break
            g.write(b)
            left -= len(b)
    set_mtime(dst, DAY1)


def distinct_files(paths):
    """Regular files among paths, one per real path, in the given order."""
    seen, out = set(), []
    for p in paths:
        r = os.path.realpath(p)
        if r in seen or not os.path.isfile(r):
            continue
        seen.add(r)
        out.append(r)
    return out


def largest_libs(n=5):
    libs = distinct_files(sorted(glob.glob(os.path.join(LIBDIR, "*.so*"))))
    libs = [p for p in libs if ".so" in os.path.basename(p)]
    libs.sort(key=lambda p: (-os.path.getsize(p), p))
    return libs[:n]


def make_concat(dst, target, exclude):
    """target bytes of real binaries end to end (first /usr/bin, then the libraries)."""
    cands = distinct_files(sorted(glob.glob("/usr/bin/*")) +
                           sorted(glob.glob(os.path.join(LIBDIR, "*.so*"))))
    cands = [p for p in cands if p not in exclude]
    if not cands:
        sys.exit("make_data: no binaries found in /usr/bin or " + LIBDIR)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    written, passes = 0, 0
    with open(dst, "wb") as g:
        while written < target:
            passes += 1
            for p in cands:
                try:
                    with open(p, "rb") as f:
                        while written < target:
                            b = f.read(min(BUF, target - written))
                            if not b:
                                break
                            g.write(b)
                            written += len(b)
                except OSError:
                    continue
                if written >= target:
                    break
    if passes > 1:
        print(f"make_data: warning: binaries repeat in {dst} ({passes} passes)", file=sys.stderr)
    set_mtime(dst, DAY1)


def tree_stats(root):
    files = links = dirs = size = 0
    for dp, dns, fns in os.walk(root):
        dirs += 1
        for n in fns + [d for d in dns if os.path.islink(os.path.join(dp, d))]:
            st = os.lstat(os.path.join(dp, n))
            if stat.S_ISLNK(st.st_mode):
                links += 1
            elif stat.S_ISREG(st.st_mode):
                files += 1
                size += st.st_size
    return {"files": files, "symlinks": links, "dirs": dirs, "bytes": size}


def regular_files(root):
    return [r for r, is_link in walk(root) if not is_link]


def make_alice(out, scale, seed):
    alice = os.path.join(out, "alice")
    for src_root, prefix in (("/usr/share", "share"), ("/usr/lib/python3.11", "python3.11")):
        skip = SKIP_DIR_NAMES if prefix == "share" else ()
        for rel, is_link in walk(src_root, skip):
            if scale < 1 and hfrac(seed, f"{prefix}/{rel}") >= scale:
                continue
            try:
                copy_entry(os.path.join(src_root, rel), os.path.join(alice, prefix, rel), is_link)
            except OSError as e:
                print(f"make_data: skipped {src_root}/{rel}: {e}", file=sys.stderr)
    libs = largest_libs()
    for p in libs:
        dst = os.path.join(alice, "libs", os.path.basename(p))
        if scale >= 1:
            copy_entry(p, dst, False, mtime_ns=DAY1 * 10**9)
        else:
            copy_prefix(p, dst, int(os.path.getsize(p) * scale))
    make_concat(os.path.join(alice, "big", "binaries.img"), int(GIB * scale), set(libs))
    return alice


def pool_files():
    """Real files alice does not have, for bob's unique files and day 2's new ones."""
    out = []
    roots = ["/usr/share/locale", "/usr/share/X11/locale", "/usr/share/i18n/locales",
             "/usr/include"]
    for root in roots:
        for rel, is_link in walk(root):
            p = os.path.join(root, rel)
            if not is_link and 0 < os.path.getsize(p) < LARGE:
                out.append(p)
    return out


def make_bob(out, alice, pool, alice_bytes, seed):
    bob = os.path.join(out, "bob")
    for rel, is_link in walk(alice):
        src = os.path.join(alice, rel)
        large = not is_link and os.path.getsize(src) >= LARGE
        if large or hfrac(seed, "bob-keep:" + rel) < 0.90:
            copy_entry(src, os.path.join(bob, rel), is_link)
    target = int(0.07 * alice_bytes)
    added = nadded = 0
    for p in pool:
        if added >= target:
            break
        # /usr/share/locale/de/... -> bob/share/locale/de/..., /usr/include/x.h -> bob/include/x.h
        rel = os.path.relpath(p, "/usr")
        added += copy_entry(p, os.path.join(bob, rel), False, mtime_ns=DAY1 * 10**9)
        nadded += 1
    if added < target:
        print(f"make_data: warning: bob got only {added} of {target} unique bytes", file=sys.stderr)
    return bob, {"files": nadded, "bytes": added}


def copy_with_insert(src, dst, insert):
    """dst = src with `insert` placed in the middle, streamed (files can be 1 GiB)."""
    size = os.path.getsize(src)
    mid = size // 2
    with open(src, "rb") as f, open(dst, "wb") as g:
        left = mid
        while left > 0:
            b = f.read(min(BUF, left))
            g.write(b)
            left -= len(b)
        g.write(insert)
        shutil.copyfileobj(f, g, BUF)
    set_mtime(dst, DAY2)


def make_day2(out, alice, pool, seed):
    day2 = os.path.join(out, "alice-day2")
    rng = random.Random(f"{seed}:day2")
    files = regular_files(alice)
    sizes = {r: os.path.getsize(os.path.join(alice, r)) for r in files}
    n = len(files)
    forced = [r for r in ["big/binaries.img"] +
              sorted(r for r in files if r.startswith("libs/"))[:2] if r in sizes]
    want_mod = max(len(forced), round(0.02 * n))
    others = [r for r in files if r not in forced and sizes[r] > 0]
    modified = set(forced) | set(rng.sample(others, min(len(others), want_mod - len(forced))))
    rest = [r for r in files if r not in modified and sizes[r] < LARGE]
    deleted = set(rng.sample(rest, min(len(rest), round(0.01 * n))))

    inserted = 0
    for rel, is_link in walk(alice):
        if rel in deleted:
            continue
        src, dst = os.path.join(alice, rel), os.path.join(day2, rel)
        if rel in modified:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            ins = rng.randbytes(rng.randint(8, 64))
            copy_with_insert(src, dst, ins)
            inserted += len(ins)
        else:
            copy_entry(src, dst, is_link)

    # New files land in random existing directories, as new files on a laptop do.
    dirs = sorted({os.path.dirname(r) for r in files if r not in deleted})
    new_n = new_bytes = 0
    for p in pool[: max(1, round(0.01 * n))]:
        d = rng.choice(dirs)
        dst = os.path.join(day2, d, os.path.basename(p))
        while os.path.lexists(dst):
            dst = os.path.join(os.path.dirname(dst), "new-" + os.path.basename(dst))
        new_bytes += copy_entry(p, dst, False, mtime_ns=DAY2 * 10**9)
        new_n += 1
    return day2, {"modified": len(modified), "modified_large": sum(sizes[r] >= LARGE for r in modified),
                  "bytes_inserted": inserted, "deleted": len(deleted), "new": new_n,
                  "new_bytes": new_bytes}


def text_buffer(limit=8 << 20):
    parts, size = [], 0
    for root in ("/usr/lib/python3.11", "/usr/share/doc"):
        for rel, is_link in walk(root):
            if is_link or not rel.endswith((".py", ".txt", ".md", ".html", "copyright")):
                continue
            try:
                with open(os.path.join(root, rel), "rb") as f:
                    b = f.read()
            except OSError:
                continue
            parts.append(b)
            size += len(b)
            if size >= limit:
                return b"".join(parts)
    buf = b"".join(parts)
    if len(buf) < (1 << 20):
        sys.exit("make_data: not enough real text in /usr/lib/python3.11 and /usr/share/doc")
    return buf


def make_many(out, scale, seed):
    many = os.path.join(out, "many")
    count = max(2000, int(100_000 * scale))
    rng = random.Random(f"{seed}:many")
    buf = text_buffer()
    made_dirs = set()
    t = DAY1 * 10**9
    for i in range(count):
        d = os.path.join(many, f"d{i // 10000:02d}", f"d{(i // 100) % 100:02d}")
        if d not in made_dirs:
            os.makedirs(d, exist_ok=True)
            made_dirs.add(d)
        size = min(65536, int(rng.lognormvariate(math.log(2000), 1.0)))
        off = rng.randrange(len(buf) - size)
        p = os.path.join(d, f"f{i % 100:02d}.txt")
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, buf[off:off + size])
        finally:
            os.close(fd)
        os.utime(p, ns=(t, t))
    return many


def set_dir_mtimes(root):
    for dp, _, _ in os.walk(root, topdown=False):
        set_mtime(dp, DAY1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = full size (~2.0 GB for alice)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--force", action="store_true", help="replace trees already in OUT_DIR")
    a = ap.parse_args()
    if not 0 < a.scale <= 4:
        ap.error("--scale must be in (0, 4]")
    out = os.path.abspath(a.out_dir)
    os.makedirs(out, exist_ok=True)
    names = ["alice", "bob", "alice-day2", "many"]
    for n in names + ["manifest.json"]:
        p = os.path.join(out, n)
        if os.path.lexists(p):
            if not a.force:
                sys.exit(f"make_data: {p} exists (use --force to replace)")
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)

    t0 = time.monotonic()
    pool = pool_files()
    pool.sort(key=lambda p: hfrac(a.seed, "pool:" + p))  # a seeded shuffle, independent of order
    bob_pool = [p for p in pool if hfrac(a.seed, "pool-owner:" + p) < 0.65]
    day2_pool = [p for p in pool if hfrac(a.seed, "pool-owner:" + p) >= 0.65]

    alice = make_alice(out, a.scale, a.seed)
    alice_stats = tree_stats(alice)
    _, bob_unique = make_bob(out, alice, bob_pool, alice_stats["bytes"], a.seed)
    _, day2_changes = make_day2(out, alice, day2_pool, a.seed)
    make_many(out, a.scale, a.seed)
    for n in names:
        set_dir_mtimes(os.path.join(out, n))

    manifest = {
        "generator_version": GENERATOR_VERSION, "scale": a.scale, "seed": a.seed,
        "trees": {n: tree_stats(os.path.join(out, n)) for n in names},
        "bob_unique": bob_unique, "alice_day2_changes": day2_changes,
        "generate_s": round(time.monotonic() - t0, 1),
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)

    print(f"dataset in {out} (scale {a.scale}, seed {a.seed}, {manifest['generate_s']} s)")
    print(f"{'tree':<12}{'files':>9}{'symlinks':>10}{'dirs':>8}{'MB':>10}")
    for n in names:
        s = manifest["trees"][n]
        print(f"{n:<12}{s['files']:>9}{s['symlinks']:>10}{s['dirs']:>8}{s['bytes'] / 1e6:>10.1f}")
    print(f"bob unique: {bob_unique['files']} files, {bob_unique['bytes'] / 1e6:.1f} MB")
    c = day2_changes
    print(f"alice-day2: {c['modified']} modified ({c['modified_large']} large, "
          f"{c['bytes_inserted']} bytes inserted), {c['deleted']} deleted, {c['new']} new "
          f"({c['new_bytes'] / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Fails if a file outside store/ includes RocksDB, zstd, OpenSSL or librados
# headers (tools/ceph/ holds stand-alone probes of librados, not built with
# keepfs), or a file outside fs/fuse/ includes FUSE headers.
set -euo pipefail
root="${1:-.}"
cd "$root"
bad=0
dirs=()
for d in store snapshot gc fs tools tests; do [ -d "$d" ] && dirs+=("$d"); done
while IFS= read -r hit; do
  echo "layering violation (engine header outside store/): $hit"; bad=1
done < <(grep -rnE '#include\s*[<"](rocksdb/|zstd|openssl/|rados/)' --include='*.h' --include='*.cc' \
           "${dirs[@]}" 2>/dev/null | grep -v -e '^store/' -e '^tools/ceph/' || true)
while IFS= read -r hit; do
  echo "layering violation (FUSE header outside fs/fuse/): $hit"; bad=1
done < <(grep -rnE '#include\s*[<"]fuse' --include='*.h' --include='*.cc' \
           "${dirs[@]}" 2>/dev/null | grep -v '^fs/fuse/' || true)
files=$(find "${dirs[@]}" -name '*.h' -o -name '*.cc' | wc -l)
echo "checked $files source files"
exit $bad

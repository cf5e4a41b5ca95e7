// nfs_hold SERVER EXPORT VERSION PATH...: opens each PATH over NFS (libnfs),
// prints its file id and a hash of its bytes, waits for a line on stdin
// (while the server side is restarted), then reads the SAME open NFS file
// handles again and looks the paths up by name again: exit 0 if nothing changed.
// Used by tools/nas/nfs_export_check.sh; built there with -lnfs.
#include <sys/time.h>
#include <nfsc/libnfs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>

static uint64_t hash_fh(struct nfs_context *nfs, struct nfsfh *fh, uint64_t size, int *err) {
  uint64_t h = 1469598103934665603ull, off = 0;
  static char buf[1 << 20];
  *err = 0;
  while (off < size) {
    int n = nfs_pread(nfs, fh, off, sizeof buf, buf);
    if (n < 0) { *err = n; return 0; }
    if (n == 0) break;
    for (int i = 0; i < n; ++i) h = (h ^ (unsigned char)buf[i]) * 1099511628211ull;
    off += n;
  }
  return h ^ off;
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: nfs_hold SERVER EXPORT VERSION PATH...\n"); return 2; }
  struct nfs_context *nfs = nfs_init_context();
  nfs_set_version(nfs, atoi(argv[3]));
  nfs_set_autoreconnect(nfs, -1);
  if (nfs_mount(nfs, argv[1], argv[2]) != 0) { fprintf(stderr, "mount: %s\n", nfs_get_error(nfs)); return 1; }
  int n = argc - 4, bad = 0;
  struct nfsfh **fh = calloc(n, sizeof *fh);
  uint64_t *ino = calloc(n, 8), *hash = calloc(n, 8), *size = calloc(n, 8);
  for (int i = 0; i < n; ++i) {
    struct nfs_stat_64 st; int err;
    if (nfs_open(nfs, argv[4 + i], O_RDONLY, &fh[i]) != 0) { fprintf(stderr, "open %s: %s\n", argv[4 + i], nfs_get_error(nfs)); return 1; }
    nfs_fstat64(nfs, fh[i], &st);
    ino[i] = st.nfs_ino; size[i] = st.nfs_size;
    hash[i] = hash_fh(nfs, fh[i], size[i], &err);
    printf("before %s: fileid %llu size %llu hash %016llx%s\n", argv[4 + i], (unsigned long long)ino[i], (unsigned long long)size[i], (unsigned long long)hash[i], err ? " READ ERROR" : "");
  }
  printf("ready: restart the server side, then press enter\n"); fflush(stdout);
  char line[64];
  if (!fgets(line, sizeof line, stdin)) return 1;
  for (int i = 0; i < n; ++i) {
    struct nfs_stat_64 st, byname; int err;
    int rs = nfs_fstat64(nfs, fh[i], &st);
    if (rs != 0) { printf("after  %s: fstat on the old handle: %s\n", argv[4 + i], nfs_get_error(nfs)); bad = 1; continue; }
    uint64_t h = hash_fh(nfs, fh[i], size[i], &err);
    int rn = nfs_stat64(nfs, argv[4 + i], &byname);
    int same = st.nfs_ino == ino[i] && h == hash[i] && !err && rn == 0 && byname.nfs_ino == ino[i];
    printf("after  %s: old handle fileid %llu hash %016llx%s; by name fileid %llu: %s\n", argv[4 + i], (unsigned long long)st.nfs_ino, (unsigned long long)h, err ? " READ ERROR" : "", rn == 0 ? (unsigned long long)byname.nfs_ino : 0ull, same ? "SAME" : "DIFFERENT");
    if (!same) bad = 1;
  }
  return bad;
}

/*
 * badfile.c — a FUSE file system of one file whose middle cannot be read or
 * written: the soak campaign's medium error (EIO), where device-mapper's `error`
 * target is not available (no dm in the kernel).
 *
 *   badfile BACKING FIRST COUNT MOUNTPOINT
 *
 * MOUNTPOINT/disk.img is BACKING, byte for byte, except that any read or write
 * touching sectors [FIRST, FIRST + COUNT) fails with EIO. direct_io: every
 * transfer reaches this process, none is answered from the page cache. Runs in
 * the foreground until unmounted (or SIGTERM).
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int backing = -1;
static off_t bad_first, bad_end; /* bytes */
static const char *NAME = "/disk.img";

static int bad(off_t off, size_t len) { return off < bad_end && off + (off_t)len > bad_first; }

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  memset(st, 0, sizeof *st);
  if (strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  if (strcmp(path, NAME) != 0) return -ENOENT;
  struct stat b;
  if (fstat(backing, &b) < 0) return -errno;
  st->st_mode = S_IFREG | 0644;
  st->st_nlink = 1;
  st->st_size = b.st_size;
  return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags fl) {
  (void)off, (void)fi, (void)fl;
  if (strcmp(path, "/") != 0) return -ENOENT;
  fill(buf, ".", NULL, 0, 0);
  fill(buf, "..", NULL, 0, 0);
  fill(buf, NAME + 1, NULL, 0, 0);
  return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi) {
  if (strcmp(path, NAME) != 0) return -ENOENT;
  fi->direct_io = 1;
  return 0;
}

static int fs_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
  (void)path, (void)fi;
  if (bad(off, len)) return -EIO;
  ssize_t n = pread(backing, buf, len, off);
  return n < 0 ? -errno : (int)n;
}

static int fs_write(const char *path, const char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
  (void)path, (void)fi;
  if (bad(off, len)) return -EIO;
  ssize_t n = pwrite(backing, buf, len, off);
  return n < 0 ? -errno : (int)n;
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)path, (void)fi;
  return (datasync ? fdatasync(backing) : fsync(backing)) < 0 ? -errno : 0;
}

static const struct fuse_operations ops = {
    .getattr = fs_getattr,
    .readdir = fs_readdir,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .fsync = fs_fsync,
};

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: badfile BACKING FIRST COUNT MOUNTPOINT\n");
    return 2;
  }
  backing = open(argv[1], O_RDWR);
  if (backing < 0) {
    perror(argv[1]);
    return 1;
  }
  bad_first = (off_t)strtoll(argv[2], NULL, 10) * 512;
  bad_end = bad_first + (off_t)strtoll(argv[3], NULL, 10) * 512;
  char *args[] = {argv[0], "-f", "-s", "-o", "default_permissions,allow_other,fsname=aoede-soak-badfile", argv[4], NULL};
  return fuse_main(6, args, &ops, NULL);
}

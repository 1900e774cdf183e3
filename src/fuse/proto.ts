/**
 * FUSE kernel protocol numbers (<linux/fuse.h>, protocol 7.x; FreeBSD's fusefs speaks
 * the same 7.28-7.29 subset). See ../shared/notes/fuse-direct.md for what was
 * measured on Linux 6.18.
 */

/** The protocol this codec speaks: major 7, every struct at its 7.31 size. */
export const KERNEL_VERSION = 7;
/** Highest minor implemented: 7.31 needs no request or reply this codec lacks. */
export const KERNEL_MINOR = 31;
/** Oldest minor accepted: 7.23 is the first with the 64-byte INIT reply (FreeBSD 12+ and Linux 4.x+ send more). */
export const MIN_KERNEL_MINOR = 23;

/** Node id of the mount's root (FUSE_ROOT_ID). */
export const ROOT_ID = 1;

export const Opcode = {
  LOOKUP: 1,
  FORGET: 2, // no reply
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36, // no reply of its own
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42, // no reply
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** fuse_init_in/out flags (the low 32 bits; bits 32-63 go in flags2 with INIT_EXT). */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  POSIX_LOCKS: 1 << 1,
  FILE_OPS: 1 << 2,
  ATOMIC_O_TRUNC: 1 << 3,
  EXPORT_SUPPORT: 1 << 4,
  BIG_WRITES: 1 << 5,
  DONT_MASK: 1 << 6,
  SPLICE_WRITE: 1 << 7,
  SPLICE_MOVE: 1 << 8,
  SPLICE_READ: 1 << 9,
  FLOCK_LOCKS: 1 << 10,
  HAS_IOCTL_DIR: 1 << 11,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  WRITEBACK_CACHE: 1 << 16,
  NO_OPEN_SUPPORT: 1 << 17,
  PARALLEL_DIROPS: 1 << 18,
  HANDLE_KILLPRIV: 1 << 19,
  POSIX_ACL: 1 << 20,
  ABORT_ERROR: 1 << 21,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
  NO_OPENDIR_SUPPORT: 1 << 24,
  EXPLICIT_INVAL_DATA: 1 << 25,
  MAP_ALIGNMENT: 1 << 26,
  SUBMOUNTS: 1 << 27,
  HANDLE_KILLPRIV_V2: 1 << 28,
  SETXATTR_EXT: 1 << 29,
  INIT_EXT: 1 << 30,
  INIT_RESERVED: 2 ** 31,
} as const;

/** fuse_open_out.open_flags */
export const OpenReplyFlag = {
  DIRECT_IO: 0x1,
  KEEP_CACHE: 0x2,
  NONSEEKABLE: 0x4,
  CACHE_DIR: 0x8,
  STREAM: 0x10,
  NOFLUSH: 0x20,
  PARALLEL_DIRECT_WRITES: 0x40,
} as const;

/** fuse_setattr_in.valid: which fields the kernel sets */
export const SetattrValid = {
  MODE: 0x1,
  UID: 0x2,
  GID: 0x4,
  SIZE: 0x8,
  ATIME: 0x10,
  MTIME: 0x20,
  FH: 0x40,
  ATIME_NOW: 0x80,
  MTIME_NOW: 0x100,
  LOCKOWNER: 0x200,
  CTIME: 0x400,
} as const;

/** fuse_fsync_in.fsync_flags bit 0: fdatasync */
export const FSYNC_FDATASYNC = 0x1;

/** Notification codes, carried in the out-header's error field with unique 0. */
export const NotifyCode = {
  POLL: 1,
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
  RETRIEVE: 5,
  DELETE: 6,
} as const;

/** st_mode file types and dirent types */
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const DT_DIR = 4;
export const DT_REG = 8;

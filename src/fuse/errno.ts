/**
 * errno numbers in replies. A reply's error is minus an errno number of the KERNEL
 * that reads it, and Linux and FreeBSD disagree past 34 (ENOSYS 38/78, ENOTEMPTY
 * 39/66, ETIMEDOUT 110/60): FreeBSD turns numbers it does not know into EIO, and
 * reads Linux numbers only when mounted with `linux_errnos`. So every name the tree
 * and the server use has one number per OS here, and nothing else picks numbers.
 */
import type { ErrnoName } from "./vfs.ts";

/** The names the Vfs may use, plus those the server itself answers with. */
export type ReplyErrno = ErrnoName | "EOPNOTSUPP" | "ENOTCONN" | "ECONNABORTED" | "EPROTO" | "ERANGE" | "ENODATA";

export type FuseOs = "linux" | "freebsd";

const LINUX: Readonly<Record<ReplyErrno, number>> = {
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, ENXIO: 6, EBADF: 9, EAGAIN: 11, EACCES: 13,
  EBUSY: 16, EEXIST: 17, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EFBIG: 27,
  ENOSPC: 28, EROFS: 30, ERANGE: 34, ENOSYS: 38, ENOTEMPTY: 39, ENODATA: 61, EPROTO: 71,
  ENOTSUP: 95, EOPNOTSUPP: 95, ECONNABORTED: 103, ENOTCONN: 107, ETIMEDOUT: 110,
};

const FREEBSD: Readonly<Record<ReplyErrno, number>> = {
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, ENXIO: 6, EBADF: 9, EACCES: 13, EBUSY: 16,
  EEXIST: 17, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EFBIG: 27, ENOSPC: 28,
  EROFS: 30, ERANGE: 34, EAGAIN: 35, ENOTSUP: 45, EOPNOTSUPP: 45, ECONNABORTED: 53,
  ENOTCONN: 57, ETIMEDOUT: 60, ENOTEMPTY: 66, ENOSYS: 78, ENODATA: 87 /* ENOATTR */, EPROTO: 92,
};

/** The errno table replies use on `os` (FreeBSD mounted `linux_errnos` takes Linux's). */
export function errnoTableFor(os: FuseOs): Readonly<Record<ReplyErrno, number>> {
  return os === "freebsd" ? FREEBSD : LINUX;
}

/** The out-header error for `name` on `os`: minus its number. */
export function replyError(name: ReplyErrno, os: FuseOs): number {
  return -errnoTableFor(os)[name];
}

/** Is `s` one of the names a reply can carry? (VfsError from untyped code, say.) */
export function isReplyErrno(s: string): s is ReplyErrno {
  return Object.hasOwn(LINUX, s);
}

/**
 * errno numbers and names for the platforms AoEde builds for. The numbers differ
 * between Linux and FreeBSD past 34 (EAGAIN is 11 on Linux, 35 on FreeBSD), so every
 * comparison goes through the table of the running platform.
 */

type ErrnoTable = Readonly<Record<string, number>>;

const LINUX: ErrnoTable = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8,
  EBADF: 9, ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16,
  EEXIST: 17, ENODEV: 19, ENOTDIR: 20, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25,
  ENOSPC: 28, EPIPE: 32, ERANGE: 34, ENOSYS: 38, EMSGSIZE: 90, EPROTOTYPE: 91,
  ENOPROTOOPT: 92, EPROTONOSUPPORT: 93, EOPNOTSUPP: 95, EAFNOSUPPORT: 97,
  EADDRINUSE: 98, EADDRNOTAVAIL: 99, ENETDOWN: 100, ENETUNREACH: 101, ENOBUFS: 105,
  ETIMEDOUT: 110, EHOSTUNREACH: 113,
};

const FREEBSD: ErrnoTable = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8,
  EBADF: 9, ECHILD: 10, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17,
  ENODEV: 19, ENOTDIR: 20, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25, ENOSPC: 28,
  EPIPE: 32, ERANGE: 34, EAGAIN: 35, EMSGSIZE: 40, EPROTOTYPE: 41, ENOPROTOOPT: 42,
  EPROTONOSUPPORT: 43, EOPNOTSUPP: 45, EAFNOSUPPORT: 47, EADDRINUSE: 48,
  EADDRNOTAVAIL: 49, ENETDOWN: 50, ENETUNREACH: 51, ENOBUFS: 55, ETIMEDOUT: 60,
  EHOSTUNREACH: 65, ENOSYS: 78,
};

export function errnoTable(platform: string = process.platform): ErrnoTable {
  return platform === "freebsd" ? FREEBSD : LINUX;
}

/** errno numbers of the running platform, by name: `Errno.EAGAIN`. */
export const Errno = errnoTable() as Readonly<Record<
  | "EPERM" | "ENOENT" | "EINTR" | "EIO" | "ENXIO" | "EBADF" | "EAGAIN" | "ENOMEM"
  | "EACCES" | "EFAULT" | "EBUSY" | "ENODEV" | "EINVAL" | "ENOTTY" | "EMSGSIZE"
  | "ENOPROTOOPT" | "EOPNOTSUPP" | "EAFNOSUPPORT" | "EADDRNOTAVAIL" | "ENETDOWN"
  | "ENETUNREACH" | "ENOBUFS" | "ENOSYS" | "EMFILE" | "ENFILE" | "ENOENT",
  number
>>;

const namesByNumber = new Map<string, Map<number, string>>();

/** The symbolic name of an errno number ("ENODEV"), or "E<number>" when unknown. */
export function errnoName(n: number, platform: string = process.platform): string {
  let m = namesByNumber.get(platform);
  if (!m) {
    m = new Map(Object.entries(errnoTable(platform)).map(([k, v]) => [v, k]));
    namesByNumber.set(platform, m);
  }
  return m.get(n) ?? `E${n}`;
}

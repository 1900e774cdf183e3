/**
 * libc through bun:ffi: the only door to the kernel. Linux loads libc.so.6, FreeBSD
 * libc.so.7; the symbol set differs a little (setns and eventfd are Linux-only, the
 * errno location is `__errno_location` on Linux and `__error` on FreeBSD).
 *
 * Declarations follow ../shared/notes/bun-raw-ethernet.md: ssize_t returns are
 * declared i32 (64-bit returns come back as BigInt, slow and awkward), the variadic
 * ioctl/fcntl/open are declared with fixed integer/pointer arguments, which is
 * correct on x86-64 and aarch64 for integer-class arguments.
 */
import { CString, dlopen, read, type FFIFunction } from "bun:ffi";
import { errnoName } from "./errno.ts";

const isFreeBSD = process.platform === "freebsd";

export const LIBC_PATH = isFreeBSD ? "libc.so.7" : "libc.so.6";

const common = {
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
  ioctl: { args: ["i32", "u64", "ptr"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
  recvmmsg: { args: ["i32", "ptr", "u32", "i32", "ptr"], returns: "i32" },
  sendmmsg: { args: ["i32", "ptr", "u32", "i32"], returns: "i32" },
  sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: "i32" },
  recvfrom: { args: ["i32", "ptr", "u64", "i32", "ptr", "ptr"], returns: "i32" },
  open: { args: ["ptr", "i32", "i32"], returns: "i32" },
  read: { args: ["i32", "ptr", "u64"], returns: "i32" },
  write: { args: ["i32", "ptr", "u64"], returns: "i32" },
  pipe: { args: ["ptr"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  strerror: { args: ["i32"], returns: "ptr" },
  if_nameindex: { args: [], returns: "ptr" },
  if_freenameindex: { args: ["ptr"], returns: "void" },
  getifaddrs: { args: ["ptr"], returns: "i32" },
  getpagesize: { args: [], returns: "i32" },
  freeifaddrs: { args: ["ptr"], returns: "void" },
  // MAP_FAILED ((void *)-1) comes back as a BigInt, a mapping as a number
  mmap: { args: ["ptr", "u64", "i32", "i32", "i32", "i64"], returns: "ptr" },
  munmap: { args: ["ptr", "u64"], returns: "i32" },
} as const satisfies Record<string, FFIFunction>;

const linuxOnly = {
  __errno_location: { args: [], returns: "ptr" },
  setns: { args: ["i32", "i32"], returns: "i32" },
  eventfd: { args: ["u32", "i32"], returns: "i32" },
} as const satisfies Record<string, FFIFunction>;

const freebsdOnly = {
  __error: { args: [], returns: "ptr" },
} as const satisfies Record<string, FFIFunction>;

type LinuxSymbols = ReturnType<typeof dlopen<typeof common & typeof linuxOnly>>["symbols"];
type FreeBSDSymbols = ReturnType<typeof dlopen<typeof common & typeof freebsdOnly>>["symbols"];

const lib = isFreeBSD
  ? dlopen(LIBC_PATH, { ...common, ...freebsdOnly })
  : dlopen(LIBC_PATH, { ...common, ...linuxOnly });

/** Calls present on every platform. */
export const libc = lib.symbols as unknown as Omit<LinuxSymbols, keyof typeof linuxOnly>;

/** Linux-only calls; undefined elsewhere. */
export const linuxLibc: Pick<LinuxSymbols, keyof typeof linuxOnly> | undefined = isFreeBSD
  ? undefined
  : (lib.symbols as unknown as LinuxSymbols);

// The errno slot is per thread and fixed for the thread's life: look it up once
// (each Worker loads its own copy of this module, so it gets its own slot).
const errnoLocation = isFreeBSD
  ? (lib.symbols as unknown as FreeBSDSymbols).__error()
  : (lib.symbols as unknown as LinuxSymbols).__errno_location();

/** errno of this thread; read it right after the failing call. */
export function errno(): number {
  return read.i32(errnoLocation!, 0);
}

/** libc's text for an errno number ("No such device"). */
export function strerror(n: number): string {
  const p = libc.strerror(n);
  return p ? new CString(p).toString() : `errno ${n}`;
}

/** A failed call, described: errno number, name and libc text. */
export interface SysError {
  readonly errno: number;
  readonly code: string;
  readonly text: string;
}

/** Capture errno now (call right after the failing libc call). */
export function lastError(): SysError {
  const n = errno();
  return { errno: n, code: errnoName(n), text: strerror(n) };
}

/** A NUL-terminated copy of `s` for calls that take a C string. */
export function cString(s: string): Uint8Array {
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array(new ArrayBuffer(bytes.length + 1));
  out.set(bytes);
  return out;
}

export { errnoName };

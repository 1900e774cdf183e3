/**
 * Mounting a FUSE file system on Linux without libfuse or fusermount: mount(2) with
 * the /dev/fuse descriptor in the options, umount2(2), the fusectl abort, and
 * finding (and clearing) a mount left behind by a dead server.
 * See ../shared/notes/fuse-direct.md ("Mounting", pitfalls 7-9). Needs root.
 */
import { dlopen } from "bun:ffi";
import { readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { cString, lastError, LIBC_PATH } from "../libc.ts";

const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MNT_DETACH = 0x2;
const FUSECTL_DIR = "/sys/fs/fuse/connections";

const lib =
  process.platform === "linux"
    ? dlopen(LIBC_PATH, {
        mount: { args: ["ptr", "ptr", "ptr", "u64", "ptr"], returns: "i32" },
        umount2: { args: ["ptr", "i32"], returns: "i32" },
      })
    : undefined;

/** A mount or unmount failed: code is the errno name. */
export class FuseMountError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "FuseMountError";
  }
}

export interface LinuxMountOptions {
  /** the /dev/fuse descriptor */
  fd: number;
  /** owner of the mount (user_id=, group_id=): the kernel lets only them in without allow_other */
  uid: number;
  gid: number;
  /** let every user in (allow_other) */
  allowOther: boolean;
  /** the kernel checks the modes the server reports (default_permissions); no ACCESS requests then */
  defaultPermissions: boolean;
}

/**
 * The option string mount(2) passes to fuse: only the kernel's own names (libfuse's,
 * such as fsname or direct_io, make mount fail with EINVAL). rootmode=40000: the root
 * is a directory (octal S_IFDIR).
 */
export function linuxMountOptions(o: LinuxMountOptions): string {
  const parts = [`fd=${o.fd}`, "rootmode=40000", `user_id=${o.uid}`, `group_id=${o.gid}`];
  if (o.allowOther) parts.push("allow_other");
  if (o.defaultPermissions) parts.push("default_permissions");
  return parts.join(",");
}

/** mount(2) type: "fuse.<subtype>" (shown in /proc/mounts), or plain "fuse". */
export function fuseFsType(subtype: string | undefined): string {
  return subtype ? `fuse.${subtype}` : "fuse";
}

/** Mounts the connection behind `o.fd` at `mountpoint`, nosuid and nodev. */
export function mountFuse(source: string, mountpoint: string, subtype: string | undefined, o: LinuxMountOptions): void {
  if (!lib) throw new FuseMountError("ENOSYS", "mount(2) is Linux's; use ffi/freebsd/fuse.ts");
  const type = fuseFsType(subtype);
  const r = lib.symbols.mount(cString(source), cString(mountpoint), cString(type), MS_NOSUID | MS_NODEV, cString(linuxMountOptions(o)));
  if (r !== 0) {
    const e = lastError();
    const hint = e.code === "EPERM" ? " (mounting needs root)" : e.code === "ENODEV" ? " (no fuse in this kernel: modprobe fuse)" : "";
    throw new FuseMountError(e.code, `mount ${type} on ${mountpoint}: ${e.text}${hint}`);
  }
}

/**
 * umount2(2). Lazy (MNT_DETACH) always succeeds on a mount: the name goes now, the
 * connection lives until its last open file closes. Returns undefined or the errno
 * name (EINVAL: not a mount point; EBUSY: busy, without detach).
 */
export function unmountFuse(mountpoint: string, detach: boolean): string | undefined {
  if (!lib) return "ENOSYS";
  return lib.symbols.umount2(cString(mountpoint), detach ? MNT_DETACH : 0) === 0 ? undefined : lastError().code;
}

export interface MountEntry {
  /** device number of the mount: for FUSE, minor = the fusectl connection number */
  major: number;
  minor: number;
  /** root of the mount within its file system */
  root: string;
  mountpoint: string;
  fstype: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Parses /proc/self/mountinfo (proc(5)): "id parent major:minor root mountpoint
 * options [optional fields] - fstype source superoptions". Malformed lines are skipped.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-");
    if (f.length < 7 || dash < 6 || dash + 2 >= f.length) continue;
    const dev = /^(\d+):(\d+)$/.exec(f[2]!);
    if (!dev) continue;
    out.push({
      major: Number(dev[1]),
      minor: Number(dev[2]),
      root: unescapeMountinfo(f[3]!),
      mountpoint: unescapeMountinfo(f[4]!),
      fstype: f[dash + 1]!,
      source: unescapeMountinfo(f[dash + 2]!),
    });
  }
  return out;
}

/**
 * The absolute path of `path` as mountinfo spells it, without touching `path` itself
 * (a dead FUSE mount answers ENOTCONN to anything that looks at it): the parent is
 * resolved, the last name kept.
 */
export function canonicalMountpoint(path: string): string {
  const abs = resolve(path);
  if (abs === "/") return abs;
  let parent = dirname(abs);
  try {
    parent = realpathSync(parent);
  } catch {
    // leave it as given: the caller's mount will report the real problem
  }
  return join(parent, basename(abs));
}

/** The topmost mount at `mountpoint` in this mount namespace, if any. */
export function findMount(mountpoint: string, mountinfo = readFileSync("/proc/self/mountinfo", "utf8")): MountEntry | undefined {
  const want = canonicalMountpoint(mountpoint);
  const all = parseMountinfo(mountinfo).filter((m) => m.mountpoint === want);
  return all.at(-1); // mounts stacked on one point are listed in mount order
}

export function isFuseType(fstype: string): boolean {
  return fstype === "fuse" || fstype.startsWith("fuse.") || fstype === "fuseblk";
}

/**
 * A FUSE mount at `mountpoint` whose server is gone (stat answers ENOTCONN,
 * "Transport endpoint is not connected") is detached; returns whether one was.
 * A live FUSE mount or any other mount is left alone and reported by the caller's
 * mount attempt. Never call this on a mount this thread serves (pitfall 10).
 */
export function clearStaleFuseMount(mountpoint: string): boolean {
  const m = findMount(mountpoint);
  if (!m || !isFuseType(m.fstype)) return false;
  try {
    statSync(canonicalMountpoint(mountpoint));
    return false; // answered: alive
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOTCONN") return false;
  }
  // Abort first, in case the dead connection is somehow still referenced, then detach.
  abortFuseConnection(m.minor);
  const err = unmountFuse(canonicalMountpoint(mountpoint), true);
  if (err && err !== "EINVAL") throw new FuseMountError(err, `cannot detach the dead FUSE mount at ${mountpoint}: ${err}`);
  return true;
}

/** Mounts fusectl at /sys/fs/fuse/connections unless it is there already. */
export function ensureFusectl(): boolean {
  if (!lib) return false;
  if (parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).some((m) => m.fstype === "fusectl")) return true;
  return lib.symbols.mount(cString("fusectl"), cString(FUSECTL_DIR), cString("fusectl"), 0, null) === 0;
}

/**
 * Aborts FUSE connection `minor` through fusectl: every request fails, reads on its
 * /dev/fuse give ENODEV (ECONNABORTED with ABORT_ERROR). The way out when copies of
 * the mount in other mount namespaces keep the connection alive after an unmount
 * (pitfall 9). Returns whether the abort file was written.
 */
export function abortFuseConnection(minor: number): boolean {
  if (!ensureFusectl()) return false;
  try {
    writeFileSync(join(FUSECTL_DIR, String(minor), "abort"), "1");
    return true;
  } catch {
    return false; // already gone
  }
}

/** Connection numbers fusectl lists (tests check that an unmount ended the connection). */
export function fuseConnections(): number[] {
  if (!ensureFusectl()) return [];
  return readdirSync(FUSECTL_DIR).map(Number).filter(Number.isInteger);
}

/**
 * Mounting fusefs on FreeBSD: nmount(2) with the iovec of ffi/freebsd/fuse-iovec.ts,
 * unmount(2), and clearing a mount left by a dead server.
 *
 * UNVERIFIED: written from fuse_vfsops.c, mount_fusefs(8) and the notes, never run on a
 * FreeBSD kernel (the project's machines are Linux); the iovec is unit-tested byte by
 * byte. Unmounting sends DESTROY and waits for its answer (pitfall 12), so it must
 * not run on the thread that serves the connection: unmountFusefs spawns umount(8).
 */
import { dlopen } from "bun:ffi";
import { statSync } from "node:fs";
import { cString, lastError, LIBC_PATH } from "../libc.ts";
import { buildNmountIovec, fusefsMountPairs, type FusefsMountOptions } from "./fuse-iovec.ts";

const MNT_NOSUID = 0x8;
const MNT_FORCE = 0x8_0000;

const lib =
  process.platform === "freebsd"
    ? dlopen(LIBC_PATH, {
        nmount: { args: ["ptr", "u32", "i32"], returns: "i32" },
        unmount: { args: ["ptr", "i32"], returns: "i32" },
      })
    : undefined;

export class FusefsMountError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "FusefsMountError";
  }
}

export function mountFusefs(o: FusefsMountOptions): void {
  if (!lib) throw new FusefsMountError("ENOSYS", "nmount(2) is FreeBSD's; use ffi/linux/fuse.ts");
  const v = buildNmountIovec(fusefsMountPairs(o));
  const r = lib.symbols.nmount(v.iov, v.niov, MNT_NOSUID);
  void v.strings; // referenced until here: the kernel read them during the call
  if (r !== 0) {
    const e = lastError();
    const hint = e.code === "ENOENT" || e.code === "ENODEV" ? " (kldload fusefs)" : e.code === "EPERM" ? " (mounting needs root)" : "";
    throw new FusefsMountError(e.code, `nmount fusefs on ${o.mountpoint}: ${e.text}${hint}`);
  }
}

/**
 * Unmounts from a child process: the kernel sends DESTROY and waits for the reply,
 * which the calling process's event loop must stay free to give.
 */
export async function unmountFusefs(mountpoint: string, force: boolean): Promise<string | undefined> {
  const p = Bun.spawn(["/sbin/umount", ...(force ? ["-f"] : []), mountpoint], { stdout: "ignore", stderr: "pipe" });
  const code = await p.exited;
  return code === 0 ? undefined : (await new Response(p.stderr).text()).trim() || `umount exited ${code}`;
}

/** A dead server's mount (ENOTCONN) at `mountpoint` is force-unmounted; returns whether one was. */
export function clearStaleFusefsMount(mountpoint: string): boolean {
  try {
    statSync(mountpoint);
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOTCONN") return false;
  }
  if (!lib) return false;
  // nobody answers DESTROY on a dead connection, so this cannot wait on us
  if (lib.symbols.unmount(cString(mountpoint), MNT_FORCE) !== 0) {
    const e = lastError();
    throw new FusefsMountError(e.code, `cannot unmount the dead fusefs mount at ${mountpoint}: ${e.text}`);
  }
  return true;
}

/**
 * mountVfs: serve a Vfs at a mount point until it is unmounted. Opens /dev/fuse,
 * clears a dead mount left at the point by a killed server, mounts (mount(2) on
 * Linux, nmount(2) on FreeBSD), starts the server loop and waits for INIT.
 *
 * Unmounting (../shared/notes/fuse-direct.md, pitfalls 8, 9, 12): detach the name
 * (MNT_DETACH: it always succeeds), keep serving until read(2) says ENODEV — open
 * files, a loop device say, keep the connection and are still served — and after
 * `graceMs` abort the connection through fusectl (copies of the mount in other mount
 * namespaces would otherwise keep it for ever), then close.
 */
import { FuseDevice } from "../../ffi/fusedev.ts";
import { clearStaleFusefsMount, mountFusefs, unmountFusefs } from "../../ffi/freebsd/fuse.ts";
import {
  abortFuseConnection,
  canonicalMountpoint,
  clearStaleFuseMount,
  findMount,
  isFuseType,
  mountFuse,
  unmountFuse,
} from "../../ffi/linux/fuse.ts";
import { DEFAULT_INIT_OPTIONS, type InitOptions } from "./negotiate.ts";
import { defaultServerOptions, FuseServer, type ServerOptions, type ServerStats } from "./server.ts";
import type { Vfs } from "./vfs.ts";

export interface MountOptions extends Partial<Omit<ServerOptions, "init">> {
  init?: Partial<InitOptions>;
  /** the mount's source, shown by mount(8) and df */
  fsName?: string;
  /** mount type fuse.<subtype> (Linux) / fusefs.<subtype> (FreeBSD) */
  subtype?: string;
  /** every user may enter, not only the mounting one */
  allowOther?: boolean;
  /** the kernel enforces the modes the Vfs reports */
  defaultPermissions?: boolean;
  /** how long unmount() waits for the connection to end before aborting it, ms */
  graceMs?: number;
  /** how long mountVfs waits for the kernel's INIT, ms */
  initTimeoutMs?: number;
}

export interface FuseMount {
  readonly mountpoint: string;
  /** a dead mount found at the mount point was detached first */
  readonly clearedStale: boolean;
  /** the fusectl connection number (Linux), for diagnostics */
  readonly connection: number | undefined;
  readonly stats: ServerStats;
  /** Unmounts and resolves once the connection has ended and the descriptor is closed. */
  unmount(): Promise<void>;
  /** resolves when the connection ends, for whatever reason (unmount here or elsewhere, abort) */
  readonly done: Promise<void>;
}

/** Mount points this process serves: checking them for staleness would deadlock (pitfall 10). */
const serving = new Set<string>();

export async function mountVfs(vfs: Vfs, mountpoint: string, opts: MountOptions = {}): Promise<FuseMount> {
  const freebsd = process.platform === "freebsd";
  const path = canonicalMountpoint(mountpoint);
  if (serving.has(path)) throw new Error(`${path} is already served by this process`);
  let clearedStale = false;
  // Several killed servers may have left a stack of dead mounts: clear them all.
  for (let i = 0; i < 16 && (freebsd ? clearStaleFusefsMount(path) : clearStaleFuseMount(path)); i++) clearedStale = true;
  if (!freebsd) {
    const there = findMount(path);
    if (there && isFuseType(there.fstype)) throw new Error(`${path}: a FUSE file system (${there.fstype}) is mounted there and alive`);
  }

  const serverOpts: Partial<ServerOptions> = {
    ...opts,
    init: { ...DEFAULT_INIT_OPTIONS, ...opts.init },
  };
  const defaults = defaultServerOptions();
  const uid = opts.uid ?? defaults.uid;
  const gid = opts.gid ?? defaults.gid;
  const dev = FuseDevice.open();
  const server = new FuseServer(dev, vfs, serverOpts);
  try {
    const common = { fd: dev.fd, allowOther: opts.allowOther ?? true, defaultPermissions: opts.defaultPermissions ?? true };
    if (freebsd) mountFusefs({ ...common, mountpoint: path, intr: true, subtype: opts.subtype ?? "aoede" });
    else mountFuse(opts.fsName ?? "aoede", path, opts.subtype ?? "aoede", { ...common, uid, gid });
  } catch (e) {
    dev.close();
    throw e;
  }
  serving.add(path);
  void server.done.finally(() => serving.delete(path)).catch(() => {});
  const connection = freebsd ? undefined : findMount(path)?.minor;
  server.start();

  const initTimeout = opts.initTimeoutMs ?? 10_000;
  let timer: Timer | undefined;
  try {
    await Promise.race([
      server.initialized,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no FUSE INIT from the kernel within ${initTimeout} ms`)), initTimeout);
      }),
    ]);
  } catch (e) {
    await detachAndEnd(server, path, connection, freebsd, 1000);
    throw e;
  } finally {
    clearTimeout(timer);
  }

  let unmounting: Promise<void> | undefined;
  const graceMs = opts.graceMs ?? 2000;
  return {
    mountpoint: path,
    clearedStale,
    connection,
    get stats() {
      return server.stats;
    },
    done: server.done,
    unmount: () => (unmounting ??= detachAndEnd(server, path, connection, freebsd, graceMs)),
  };
}

async function detachAndEnd(server: FuseServer, path: string, connection: number | undefined, freebsd: boolean, graceMs: number): Promise<void> {
  if (!server.finished) {
    if (freebsd) void unmountFusefs(path, false);
    else {
      const err = unmountFuse(path, true);
      if (err && err !== "EINVAL") throw new Error(`cannot unmount ${path}: ${err}`);
    }
  }
  if (await endsWithin(server, graceMs)) return server.done;
  // Still connected: another mount namespace holds a copy, or a file is open. Abort.
  if (freebsd) void unmountFusefs(path, true);
  else if (connection !== undefined) abortFuseConnection(connection);
  if (await endsWithin(server, graceMs)) return server.done;
  server.stop();
  return server.done;
}

async function endsWithin(server: FuseServer, ms: number): Promise<boolean> {
  let timer: Timer | undefined;
  const ended = await Promise.race([
    server.done.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  return ended;
}

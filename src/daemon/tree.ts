/**
 * The daemon's [initiator] table: the aoe(3) tree (src/tree) mounted over FUSE
 * (src/fuse/mount.ts) in the daemon's process, on the same loop and poller
 * thread as its exports — what `aoede mount` does, driven by the config file.
 *
 *   interfaces    names or patterns; each matching interface that is up is bound
 *                 (Plan 9's bind), and followed as interfaces come and go
 *   autodiscover  as `aoede mount` (default on)
 *   mountpoint    default /run/aoe; created if missing
 *
 * Reload applies a changed table in place: interfaces bound and unbound by the
 * difference (targets with another path stay, as `unbind`), autodiscover set;
 * a new mount point mounts the same tree there before the old one is unmounted,
 * so units, open counts and the log survive. A table removed stops the tree
 * (requests in flight fail, unmount); a table added starts one.
 */
import { mkdirSync, readlinkSync } from "node:fs";
import { consola } from "consola";
import { listEthernetInterfaces } from "../../ffi/rawlink.ts";
import { mountVfs, type FuseMount } from "../fuse/mount.ts";
import { TreeError } from "../tree/errors.ts";
import { removeRuntime, writeRuntime } from "../tree/runtime.ts";
import { AoeTree } from "../tree/state.ts";
import { TreeVfs } from "../tree/vfs.ts";
import { matchesInterface, type InitiatorSettings } from "./config.ts";

export const DEFAULT_TREE_MOUNTPOINT = "/run/aoe";

export class DaemonTree {
  private constructor(
    private settings: InitiatorSettings,
    private readonly tree: AoeTree,
    private readonly vfs: TreeVfs,
    private mount: FuseMount,
  ) {}

  get mountpoint(): string {
    return this.mount.mountpoint;
  }

  /** Mounts the tree and binds the interfaces that are up; throws (nothing left open) if it cannot mount. */
  static async start(settings: InitiatorSettings): Promise<DaemonTree> {
    const tree = new AoeTree({ autodiscover: settings.autodiscover, echo: (line) => consola.info(`tree: ${line}`) });
    const vfs = new TreeVfs(tree);
    let mount: FuseMount;
    try {
      mount = await mountAt(vfs, mountpointOf(settings));
    } catch (e) {
      tree.close();
      throw e;
    }
    const t = new DaemonTree(settings, tree, vfs, mount);
    warnIfPrivateMounts(t.mountpoint);
    t.record();
    t.sync();
    consola.info(`tree: aoe(3) on ${t.mountpoint}, bound to ${tree.boundNames().join(", ") || "-"}`);
    return t;
  }

  /**
   * Bind every interface that is up and matches, unbind those bound that no longer
   * match or are gone (an interface that returns is bound again). At start, on link
   * events and after a reload.
   */
  sync(): void {
    let up: string[];
    try {
      up = listEthernetInterfaces().map((i) => i.name);
    } catch (e) {
      consola.warn(`tree: cannot list interfaces: ${(e as Error).message}`);
      return;
    }
    const wanted = (n: string) => up.includes(n) && matchesInterface(this.settings.interfaces, n);
    for (const n of this.tree.boundNames()) {
      if (wanted(n)) continue;
      this.tree.unbind(n);
      consola.info(`tree: unbound ${n}`);
    }
    for (const n of up) {
      if (!wanted(n) || this.tree.boundNames().includes(n)) continue;
      try {
        this.tree.bind(n);
        consola.info(`tree: bound ${n}`);
      } catch (e) {
        consola.warn(`tree: bind ${n}: ${e instanceof TreeError ? e.message : String(e)}`);
      }
    }
  }

  /** Applies a changed [initiator] table (see the header). Throws if the new mount point cannot be mounted; the old one then stays. */
  async reload(next: InitiatorSettings): Promise<void> {
    const from = mountpointOf(this.settings);
    const to = mountpointOf(next);
    if (to !== from) {
      const fresh = await mountAt(this.vfs, to);
      const old = this.mount;
      this.mount = fresh;
      await old.unmount();
      this.record();
      consola.info(`tree: moved from ${from} to ${fresh.mountpoint}`);
    }
    this.settings = next;
    this.tree.autodiscover = next.autodiscover;
    this.sync();
  }

  /** Requests in flight fail (ENXIO), the tree is unmounted. */
  async stop(): Promise<void> {
    this.tree.close();
    try {
      await this.mount.unmount();
    } catch (e) {
      consola.warn(`tree: unmount ${this.mountpoint}: ${(e as Error).message}`);
    }
    removeRuntime();
  }

  /** tree.<pid>.json: where `aoede stat` finds the mounted tree. */
  private record(): void {
    try {
      writeRuntime(this.mount.mountpoint);
    } catch (e) {
      consola.warn(`tree: could not record the mount for aoede stat: ${(e as Error).message}`);
    }
  }
}

/**
 * A mount made in a mount namespace of the process's own (systemd's ProtectSystem=
 * and friends, `ip netns exec`) is seen only by processes in it: say so, since the
 * tree then looks absent from everywhere else.
 */
function warnIfPrivateMounts(mountpoint: string): void {
  try {
    if (readlinkSync("/proc/self/ns/mnt") !== readlinkSync("/proc/1/ns/mnt")) {
      consola.warn(`tree: this process has a mount namespace of its own: ${mountpoint} is visible only inside it (see the README's service section)`);
    }
  } catch {
    // not Linux, or /proc/1 not readable: nothing to say
  }
}

function mountpointOf(s: InitiatorSettings): string {
  return s.mountpoint ?? DEFAULT_TREE_MOUNTPOINT;
}

async function mountAt(vfs: TreeVfs, mountpoint: string): Promise<FuseMount> {
  try {
    mkdirSync(mountpoint, { recursive: true });
    // Shown as "aoe" of type fuse.aoede by mount(8) and df, as `aoede mount`'s.
    return await mountVfs(vfs, mountpoint, { fsName: "aoe", subtype: "aoede" });
  } catch (e) {
    throw new Error(`cannot mount the aoe(3) tree on ${mountpoint}: ${(e as Error).message}`);
  }
}

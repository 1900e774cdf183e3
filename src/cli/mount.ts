/**
 * `aoede mount [-i IFACE ...] [--no-autodiscover] [--deadline S] MOUNTPOINT`:
 * the aoe(3) tree (src/tree/) served over FUSE (src/fuse/server.ts) until it
 * is unmounted or the process is signalled. SIGTERM/SIGINT: requests in
 * flight fail (ENXIO), the tree is unmounted, exit 0. Log events go to stderr.
 * While mounted, <runtime dir>/tree.<pid>.json says where, for `aoede stat`.
 */
import { defineCommand } from "citty";
import { consola } from "consola";
import type { FuseMount } from "../fuse/mount.ts";
import { parseMs, repeated, UsageError } from "../initiator/cliutil.ts";

export default defineCommand({
  meta: {
    name: "mount",
    description:
      "Mount Plan 9's aoe(3) tree (ctl, log, S.L/{ctl,data,config,ident,devlink/N}) at MOUNTPOINT, served by a long-lived " +
      "initiator. Example: aoede mount -i eth0 /run/aoe; then echo discover > /run/aoe/ctl; cat /run/aoe/9.0/ctl",
  },
  args: {
    mountpoint: { type: "positional", required: false, description: "directory to mount the tree on (required)" },
    iface: { type: "string", alias: "i", valueHint: "IFACE", description: "interface to bind at start; repeat for several (Plan 9's aoeif=)" },
    autodiscover: { type: "boolean", default: true, description: "make a unit of every target that announces itself or answers (--no-autodiscover: only replies to `discover`)" },
    rediscover: { type: "boolean", description: "broadcast Query Config every 30 s (the ctl verb `rediscover on`)" },
    deadline: { type: "string", valueHint: "S", description: "a request fails when its frames go unanswered this long, seconds (default 45; `nofail` waits forever)" },
    netns: { type: "string", valueHint: "NAME", description: "open the interfaces in this network namespace (Linux; tests), the mount staying in this one" },
  },
  async run({ args, rawArgs }) {
    let mountpoint: string;
    let interfaces: string[];
    let deadlineMs: number;
    try {
      if (!args.mountpoint) throw new UsageError("MOUNTPOINT is required (usage: aoede mount [-i IFACE ...] MOUNTPOINT)");
      mountpoint = String(args.mountpoint);
      interfaces = repeated(rawArgs, "i", "iface");
      deadlineMs = parseMs(args.deadline as string | undefined, "--deadline", 45) * 1000;
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      process.stderr.write(`aoede mount: ${e.message}\n`);
      process.exit(2);
    }
    const autodiscover = !rawArgs.includes("--no-autodiscover") && args.autodiscover !== false;

    const { mountVfs } = await import("../fuse/mount.ts");
    const { AoeTree } = await import("../tree/state.ts");
    const { TreeVfs } = await import("../tree/vfs.ts");
    const { TreeError } = await import("../tree/errors.ts");
    const { writeRuntime, removeRuntime } = await import("../tree/runtime.ts");
    const netns = args.netns ? String(args.netns) : undefined;
    const tree = new AoeTree({ deadlineMs, autodiscover, netns, echo: (line) => consola.info(line) });
    try {
      for (const i of interfaces) tree.bind(i);
    } catch (e) {
      tree.close();
      process.stderr.write(`aoede mount: bind: ${e instanceof TreeError ? e.message : String(e)}\n`);
      process.exit(1);
    }
    if (args.rediscover) tree.rediscover = true;
    const vfs = new TreeVfs(tree);
    let mounted: FuseMount;
    try {
      // Shown as "aoe" of type fuse.aoede by mount(8) and df.
      mounted = await mountVfs(vfs, mountpoint, { fsName: "aoe", subtype: "aoede" });
    } catch (e) {
      tree.close();
      process.stderr.write(`aoede mount: ${mountpoint}: ${(e as Error).message}\n`);
      process.exit(1);
    }
    try {
      writeRuntime(mountpoint);
    } catch (e) {
      consola.warn(`could not record the mount for aoede stat: ${(e as Error).message}`);
    }
    consola.start(`aoe(3) tree on ${mountpoint}${interfaces.length ? ` bound to ${interfaces.join(", ")}` : " (no interface bound: echo bind IFACE > ctl)"}`);

    let stopping: Promise<void> | undefined;
    const stop = (why: string) =>
      (stopping ??= (async () => {
        consola.info(`${why}: unmounting ${mountpoint}`);
        // Requests in flight fail now (ENXIO) rather than hold the unmount for their deadline.
        tree.close();
        try {
          await mounted.unmount();
        } catch (e) {
          consola.warn(`unmount ${mountpoint}: ${(e as Error).message}`);
        }
        removeRuntime();
        process.exit(0);
      })());
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
    await mounted.done;
    await stop("unmounted");
  },
});

/**
 * The daemon's process: load and check the file (exit 2 on any mistake, nothing
 * opened), start every export and the aoe(3) tree if [initiator] asks for it
 * (tree.ts), listen on the control socket, follow interfaces (watch.ts), tell
 * systemd (sd_notify), and handle signals:
 *   SIGHUP             reload (as `aoede ctl reload`)
 *   SIGTERM, SIGINT    stop taking requests, answer those in flight, flush, unmount the tree, exit 0
 *   SIGUSR1            log the counters
 */
import { consola } from "consola";
import { sdNotify } from "../../ffi/sd-notify.ts";
import { ServeError } from "../target/server.ts";
import { ConfigError, loadDaemonConfig, type InitiatorSettings } from "./config.ts";
import { ControlServer } from "./control.ts";
import { Daemon } from "./daemon.ts";
import type { Reply, Request } from "./protocol.ts";
import type { DaemonTree } from "./tree.ts";
import { watchLinks } from "./watch.ts";

function notify(state: string): void {
  try {
    sdNotify(state);
  } catch (e) {
    consola.warn((e as Error).message);
  }
}

/** The [initiator] table's tree (tree.ts, loaded only when configured: it brings the FUSE server). */
async function startTree(ini: InitiatorSettings | undefined): Promise<DaemonTree | undefined> {
  if (ini === undefined) return undefined;
  const { DaemonTree } = await import("./tree.ts");
  return DaemonTree.start(ini);
}

/** Check `file` only: prints what it found; exit status 0 or 2. */
export function checkConfig(file: string): number {
  try {
    const c = loadDaemonConfig(file);
    const names = c.exports.map((e) => `${e.name} (e${e.shelf}.${e.slot})`).join(", ");
    process.stdout.write(`${file}: OK, ${c.exports.length} export${c.exports.length === 1 ? "" : "s"}${names ? `: ${names}` : ""}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(e.message + "\n");
    return 2;
  }
}

/** `aoede daemon -c FILE`: runs until a signal; resolves with the exit status. */
export async function runDaemon(file: string): Promise<number> {
  let config;
  try {
    config = loadDaemonConfig(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(e.message + "\n");
    return 2;
  }
  let daemon: Daemon;
  try {
    daemon = Daemon.start(config);
  } catch (e) {
    if (!(e instanceof ServeError)) throw e;
    process.stderr.write(`aoede daemon: ${e.message}\n`);
    return e.usage ? 2 : 1;
  }
  let tree: DaemonTree | undefined;
  try {
    tree = await startTree(config.initiator);
  } catch (e) {
    process.stderr.write(`aoede daemon: ${(e as Error).message}\n`);
    await daemon.stop();
    return 1;
  }

  // The tree follows its table: started, moved or changed in place, or stopped.
  // A tree that fails to start or move is logged; the exports' reload stands.
  const reloadTree = async (next: InitiatorSettings | undefined) => {
    try {
      if (next === undefined) {
        await tree?.stop();
        tree = undefined;
      } else if (tree === undefined) tree = await startTree(next);
      else await tree.reload(next);
    } catch (e) {
      consola.error(`[initiator]: ${(e as Error).message}`);
    }
  };

  let reloading = false;
  const reload = async (why: string): Promise<Reply> => {
    if (reloading) return { ok: false, error: "a reload is already running" };
    reloading = true;
    // (no MONOTONIC_USEC: only Type=notify-reload needs it, and Bun has no CLOCK_MONOTONIC reading)
    notify("RELOADING=1");
    consola.info(`reload (${why}): reading ${file}`);
    try {
      let next;
      try {
        next = loadDaemonConfig(file);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        consola.error(`the config file contains errors, not reloading:\n${e.message}`);
        return { ok: false, error: `the config file contains errors, not reloading:\n${e.message}` };
      }
      try {
        const s = await daemon.reload(next);
        await reloadTree(next.initiator);
        const line = `kept ${s.kept.join(", ") || "-"}; reopened ${s.reopened.join(", ") || "-"}; added ${s.added.join(", ") || "-"}; removed ${s.removed.join(", ") || "-"}`;
        consola.success(`the configuration has been reloaded: ${line}`);
        return { ok: true, ...s };
      } catch (e) {
        consola.error(`reload failed, the running configuration stays: ${(e as Error).message}`);
        return { ok: false, error: `reload failed, the running configuration stays: ${(e as Error).message}` };
      }
    } finally {
      reloading = false;
      notify("READY=1");
    }
  };

  const handle = (req: Request): Reply | Promise<Reply> => {
    switch (req.cmd) {
      case "stats":
        return daemon.stats();
      case "targets":
        return { ok: true, targets: daemon.targets() };
      case "show-config":
        return { ok: true, file, config: daemon.config };
      case "reload":
        return reload("aoede ctl reload");
      case "show-mask":
      case "show-reserve": {
        const list = req.cmd === "show-mask" ? daemon.masks(req.name) : daemon.reservation(req.name);
        if (list === undefined) return { ok: false, error: `no export named ${req.name}` };
        return { ok: true, name: req.name, macs: list };
      }
    }
  };

  let control: ControlServer;
  try {
    control = await ControlServer.listen(config.defaults.controlSocket, handle);
  } catch (e) {
    process.stderr.write(`aoede daemon: control socket ${config.defaults.controlSocket}: ${(e as Error).message}\n`);
    await tree?.stop();
    await daemon.stop();
    return 1;
  }
  const watch = watchLinks(
    () => {
      daemon.syncInterfaces();
      tree?.sync();
    },
    (m) => consola.warn(m),
  );

  // Every handler is in place before the start line: whoever waits for that line (a
  // supervisor, a test) may signal at once, and a signal with no handler yet kills
  // the process with its default action (exit 143 for SIGTERM, seen by the soak campaign).
  process.on("SIGHUP", () => void reload("SIGHUP"));
  process.on("SIGUSR1", () => consola.info(JSON.stringify(daemon.stats())));
  const stopped = new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (sig: string) => {
      if (signalled) {
        consola.warn(`${sig} again: exiting without waiting for requests in flight`);
        resolve(1);
        return;
      }
      signalled = true;
      notify("STOPPING=1");
      consola.info(`${sig}: stopping; finishing the requests in flight`);
      watch?.close();
      control.close();
      Promise.all([tree?.stop(), daemon.stop()]).then(
        () => {
          consola.success("stopped");
          resolve(0);
        },
        (e) => {
          consola.error(`stopping failed: ${(e as Error).message}`);
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    process.on("SIGINT", () => onSignal("SIGINT"));
  });
  consola.start(
    `pid ${process.pid}: ${daemon.running.length} exports from ${file}, control socket ${control.path}` +
      (tree ? `, aoe(3) tree on ${tree.mountpoint}` : "") +
      (watch ? "" : "; interfaces are not watched on this platform (a reload attaches new ones)"),
  );
  notify(`READY=1\nSTATUS=${daemon.running.length} exports`);

  return await stopped;
}

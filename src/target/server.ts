/**
 * Running one export: open the storage and the raw link, restore the state,
 * register with the process's event loop, announce, and serve until SIGTERM or
 * SIGINT — then stop taking requests, answer the ones in flight, flush, exit 0.
 * SIGUSR1 logs the counters.
 */
import os from "node:os";
import { consola } from "consola";
import { buildIdentify, formatMac, maxSectorsForMtu } from "../aoe/index.ts";
import { openRawLink, RawLinkError, type RawLink } from "../../ffi/rawlink.ts";
import { sharedLoop } from "../net/loop.ts";
import { VERSION } from "../version.ts";
import { AccessControl } from "./access.ts";
import type { ServeConfig } from "./config.ts";
import type { ExportCounters } from "./counters.ts";
import { Export } from "./export.ts";
import type { Port } from "./port.ts";
import { StateStore, type ExportState } from "./state.ts";
import { Storage, StorageError } from "./storage.ts";
import { TagTracker } from "./tags.ts";

/** A failure before serving starts: the message says what to do; exit status 1 (2 for `usage`). */
export class ServeError extends Error {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
    this.name = "ServeError";
  }
}

export interface RunningExport {
  readonly exp: Export;
  readonly link: RawLink;
  readonly storage: Storage;
  /** stop taking requests, finish those in flight, flush, close */
  stop(): Promise<void>;
}

/** What to tell the operator when interface `netif` cannot be opened. */
export function linkFailure(netif: string, e: RawLinkError): string {
  switch (e.code) {
    case "ENODEV":
    case "ENXIO":
      return `no network interface named ${netif}; give one that "ip link" lists`;
    case "EPERM":
    case "EACCES":
      return `cannot open ${netif}: raw Ethernet needs root (or CAP_NET_RAW); run as root`;
    default:
      return `cannot open ${netif}: ${e.message}`;
  }
}

/** The export's file or device, opened as `cfg` says; throws ServeError. */
export function openStorage(cfg: Pick<ServeConfig, "file" | "readOnly" | "direct" | "sync" | "offset" | "length">): Storage {
  try {
    return Storage.open({
      path: cfg.file,
      readOnly: cfg.readOnly,
      direct: cfg.direct,
      sync: cfg.sync,
      offsetSectors: cfg.offset,
      lengthSectors: cfg.length,
    });
  } catch (e) {
    if (e instanceof StorageError) throw new ServeError(e.message, e.usage);
    throw e;
  }
}

/** Open everything and start serving; throws ServeError (nothing is left open then). */
export function startExport(cfg: ServeConfig, opts: { netns?: string } = {}): RunningExport {
  const storage = openStorage(cfg);
  let link: RawLink;
  try {
    link = openRawLink(cfg.netif, { netns: opts.netns, bufferFrames: Math.max(cfg.bufcnt * 2, 64) });
  } catch (e) {
    storage.close();
    if (e instanceof RawLinkError) throw new ServeError(linkFailure(cfg.netif, e));
    throw e;
  }
  try {
    return serveOn(cfg, storage, link);
  } catch (e) {
    link.close();
    storage.close();
    throw e;
  }
}

/** Where an export made by makeExport replies first (its default port; Export derives macKey). */
export type FirstPort = Omit<Port, "macKey">;

/**
 * The Export for `cfg` over an open storage: its state restored from the state
 * directory (the -m/macs list, when given, replaces the saved Mac Mask list and is
 * saved), its IDENTIFY built. `aoede serve` and the daemon both make theirs here.
 */
export function makeExport(cfg: Omit<ServeConfig, "netif">, storage: Storage, port: FirstPort): Export {
  let state: StateStore | undefined;
  let saved: ExportState | undefined;
  if (cfg.stateDir !== undefined) {
    state = new StateStore(cfg.stateDir, cfg.shelf, cfg.slot);
    try {
      saved = state.load();
    } catch (e) {
      throw new ServeError(`cannot use state directory ${cfg.stateDir}: ${(e as Error).message}`);
    }
  }
  // -m on the command line is the operator's word now; otherwise the saved list
  const access = new AccessControl(cfg.macs ?? saved?.masks ?? [], saved?.reservation ?? []);
  const exp = new Export({
    shelf: cfg.shelf,
    slot: cfg.slot,
    storage,
    mac: port.mac,
    bufcnt: cfg.bufcnt,
    maxSectors: port.maxSectors,
    identify: buildIdentify({
      sectors: storage.sectors,
      model: cfg.model ?? "AoEde",
      serial: cfg.serial ?? `e${cfg.shelf}.${cfg.slot}`,
      firmware: VERSION,
      // every write reaches the disk before its reply under O_SYNC: no volatile cache to announce
      writeCache: !cfg.sync,
    }),
    access,
    config: saved?.config ?? new Uint8Array(0),
    state,
    tags: cfg.tagTracking === "off" ? undefined : new TagTracker(cfg.tagTracking, Math.max(256, cfg.bufcnt * 8)),
    send: port.send,
    sendBatch: port.sendBatch,
    warn: (m) => consola.warn(m),
  });
  // the -m/macs list replaced the saved one above: save it (Export.setMasks saves, warns on failure)
  if (cfg.macs !== undefined) exp.setMasks(cfg.macs);
  return exp;
}

function serveOn(cfg: ServeConfig, storage: Storage, link: RawLink): RunningExport {
  const maxSectors = maxSectorsForMtu(link.mtu);
  if (maxSectors < 1) {
    throw new ServeError(`the MTU of ${cfg.netif} (${link.mtu}) is too small for one sector; AoE needs at least 548`);
  }
  let sendFailures = 0;
  const sendFailed = (e: unknown) => {
    sendFailures++;
    if (sendFailures <= 5 || sendFailures % 10000 === 0) {
      consola.warn(`sending on ${link.name} failed (${sendFailures} so far): ${(e as Error).message}`);
    }
  };
  const loop = sharedLoop();
  const exp = makeExport(cfg, storage, {
    mac: link.mac,
    maxSectors,
    // A send that fails for good (the interface vanished, say) must not take the
    // process down from inside a storage callback: warn, and the initiator resends.
    send: (frame) => {
      try {
        link.send(frame);
      } catch (e) {
        sendFailed(e);
      }
    },
    sendBatch: (frames) => {
      try {
        link.sendBatch(frames);
      } catch (e) {
        sendFailed(e);
      }
    },
  });
  const detach = loop.attach(
    link,
    (frame) => exp.handle(frame),
    () => exp.flush(),
  );
  exp.announce();
  let stopping: Promise<void> | undefined;
  return {
    exp,
    link,
    storage,
    stop() {
      stopping ??= (async () => {
        await exp.stop();
        detach();
        link.close();
        storage.close();
      })();
      return stopping;
    },
  };
}

/** One line of counters, for SIGUSR1 and the exit. */
export function formatCounters(name: string, c: ExportCounters, busy: number): string {
  return (
    `${name}: ${c.received} frames, ${c.reads} reads (${c.sectorsRead} sectors), ${c.writes} writes (${c.sectorsWritten} sectors), ` +
    `${c.flushes} flushes, ${c.replies} replies, ${busy} in flight; errors: ${c.ataErrors} ATA, ${c.aoeErrors} AoE, ${c.ioErrors} I/O; ` +
    `dropped: ${c.notForUs} not for us, ${c.masked} masked, ${c.malformed} malformed, ${c.badSource} forged source, ${c.busyDropped} busy, ${c.duplicates} duplicate tags`
  );
}

/**
 * `aoede serve`: run until a signal; resolves with the exit status. `banner`
 * "vblade" (started under vblade's name) prints vblade's own start-up line, and
 * only that, on stdout: scripts that read it keep working.
 */
export async function serve(cfg: ServeConfig, banner: "aoede" | "vblade" = "aoede"): Promise<number> {
  // Signal handlers before the announcement: once initiators (or scripts) know we
  // are up they may signal us, and SIGUSR1's default action is to terminate.
  const early: string[] = [];
  let onUsr1 = () => {};
  let onSignal = (sig: string) => void early.push(sig);
  process.on("SIGUSR1", () => onUsr1());
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  const running = startExport(cfg);
  const { exp, link, storage } = running;
  const name = `e${cfg.shelf}.${cfg.slot}`;
  const mode = cfg.readOnly ? "O_RDONLY" : "O_RDWR";
  const flags = [cfg.direct ? "O_DIRECT" : "", cfg.sync ? "O_SYNC" : ""].filter(Boolean).join("|");
  // vblade: "pid 1234: e9.0, 2048 sectors O_RDWR"
  if (banner === "vblade") process.stdout.write(`pid ${process.pid}: ${name}, ${storage.sectors} sectors ${mode}\n`);
  else consola.start(
    `pid ${process.pid}: ${name}, ${storage.sectors} sectors ${mode}${flags ? "|" + flags : ""} ` +
      `(${storage.kind} ${cfg.file}) on ${link.name} ${formatMac(link.mac)} mtu ${link.mtu}, ` +
      `${exp.maxSectors} sectors/frame, bufcnt ${cfg.bufcnt}` +
      (cfg.tagTracking !== "off" ? `, tag tracking ${cfg.tagTracking}` : "") +
      (cfg.stateDir ? `, state in ${cfg.stateDir}` : "") +
      ` [aoede ${VERSION} on ${os.hostname()}]`,
  );
  onUsr1 = () => {
    const l = link.stats;
    consola.info(
      `${formatCounters(name, exp.counters, exp.busy)}; link ${link.name}: ${l.received} received, ${l.sent} sent, ` +
        `${l.sendDropped} send drops, ${link.kernelDrops()} kernel receive drops`,
    );
  };
  return await new Promise<number>((resolve) => {
    let signalled = false;
    onSignal = (sig: string) => {
      if (signalled) {
        consola.warn(`${sig} again: exiting without waiting for ${exp.busy} requests in flight`);
        resolve(1);
        return;
      }
      signalled = true;
      consola.info(`${sig}: stopping ${name}; finishing ${exp.busy} requests in flight`);
      running.stop().then(
        () => {
          consola.success(formatCounters(name, exp.counters, 0));
          resolve(0);
        },
        (e) => {
          consola.error(`stopping ${name} failed: ${(e as Error).message}`);
          resolve(1);
        },
      );
    };
    for (const sig of early) onSignal(sig);
  });
}

/**
 * The daemon's network interfaces: one raw link per interface, shared by every
 * export served on it, attached to the process's loop once. Each received frame is
 * offered to every export attached to the interface (an export drops what is not
 * addressed to its shelf.slot after reading the header); each export replies on the
 * interface's port, which counts what it sends.
 *
 * An interface is kept by name for as long as the config names it: its link comes
 * and goes with the interface (rtnetlink tells when, see watch.ts), its counters
 * (the monitor's per-interface rows) run on across those changes.
 */
import { consola } from "consola";
import { maxSectorsForMtu } from "../aoe/index.ts";
import { openRawLink, type RawLink } from "../../ffi/rawlink.ts";
import type { EventLoop } from "../net/loop.ts";
import { macKey } from "../target/access.ts";
import type { Export } from "../target/export.ts";
import type { Port } from "../target/port.ts";

/** What an interface has done since the daemon started (links opened on it, summed). */
export interface InterfaceCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** frames the kernel had no room for, on send or receive */
  drops: number;
}

interface Attached {
  readonly exp: Export;
  readonly port: Port;
}

export class Interface {
  link: RawLink | undefined;
  private attached: readonly Attached[] = [];
  private detachLoop: (() => void) | undefined;
  /** counters of links closed before the current one */
  private readonly past: InterfaceCounters = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, drops: 0 };
  /** bytes through the current link (links count frames, not bytes) */
  private rxBytes = 0;
  private txBytes = 0;
  private sendFailures = 0;

  constructor(
    readonly name: string,
    private readonly loop: EventLoop,
  ) {}

  get up(): boolean {
    return this.link?.open === true;
  }

  /** Exports attached now. */
  get exports(): Export[] {
    return this.attached.map((a) => a.exp);
  }

  /** Open the link (throws RawLinkError); `bufferFrames` sizes its receive buffer. */
  open(bufferFrames: number): RawLink {
    if (this.link?.open) return this.link;
    const link = openRawLink(this.name, { bufferFrames });
    this.link = link;
    this.rxBytes = 0;
    this.txBytes = 0;
    this.detachLoop = this.loop.attach(
      link,
      (frame) => {
        this.rxBytes += frame.length;
        const list = this.attached;
        for (let i = 0; i < list.length; i++) list[i]!.exp.handle(frame, list[i]!.port);
      },
      () => {
        for (const a of this.attached) a.exp.flush();
      },
    );
    return link;
  }

  /** Serve `exp` here too: a port of its own on this link, announced at once. */
  attach(exp: Export): void {
    const link = this.link;
    if (!link?.open || this.attached.some((a) => a.exp === exp)) return;
    const port = this.portFor(link, exp);
    this.attached = [...this.attached, { exp, port }];
    exp.announce(port);
  }

  /** Stop offering frames to `exp` (its replies in flight still go out while the link is open). */
  detach(exp: Export): void {
    this.attached = this.attached.filter((a) => a.exp !== exp);
  }

  /** The interface went away (or the daemon stops): close the link, keep the counters. */
  close(): void {
    const link = this.link;
    if (link === undefined) return;
    this.past.rxFrames += link.stats.received;
    this.past.txFrames += link.stats.sent;
    this.past.drops += link.stats.sendDropped + (link.open ? link.kernelDrops() : 0);
    this.past.rxBytes += this.rxBytes;
    this.past.txBytes += this.txBytes;
    this.rxBytes = this.txBytes = 0;
    this.detachLoop?.();
    this.detachLoop = undefined;
    if (link.open) link.close();
    this.link = undefined;
    this.attached = [];
  }

  counters(): InterfaceCounters {
    const c = { ...this.past };
    const link = this.link;
    if (link !== undefined) {
      c.rxFrames += link.stats.received;
      c.txFrames += link.stats.sent;
      c.drops += link.stats.sendDropped + (link.open ? link.kernelDrops() : 0);
      c.rxBytes += this.rxBytes;
      c.txBytes += this.txBytes;
    }
    return c;
  }

  private portFor(link: RawLink, exp: Export): Port {
    // A send that fails for good (the interface vanished, say) must not take the
    // process down from inside a storage callback: warn, and the initiator resends.
    const failed = (e: unknown) => {
      this.sendFailures++;
      if (this.sendFailures <= 5 || this.sendFailures % 10000 === 0) {
        consola.warn(`sending on ${link.name} failed (${this.sendFailures} so far): ${(e as Error).message}`);
      }
    };
    return {
      mac: link.mac,
      macKey: macKey(link.mac),
      maxSectors: Math.min(maxSectorsForMtu(link.mtu), exp.maxSectors),
      send: (frame) => {
        if (!link.open) return;
        try {
          if (link.send(frame)) this.txBytes += Math.max(frame.length, 60);
        } catch (e) {
          failed(e);
        }
      },
      sendBatch: (frames) => {
        if (!link.open) return;
        try {
          const sent = link.sendBatch(frames);
          for (let i = 0; i < sent; i++) this.txBytes += Math.max(frames[i]!.length, 60);
        } catch (e) {
          failed(e);
        }
      },
    };
  }
}

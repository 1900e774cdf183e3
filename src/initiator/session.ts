/**
 * One command's use of the network: open the chosen interfaces (or every
 * Ethernet interface that is up), start the engine on the shared loop, find
 * targets, close it all. Errors an admin can act on come out as SessionError
 * with a one-line message.
 */
import { listEthernetInterfaces, openRawLink, RawLinkError, type RawLink } from "../../ffi/rawlink.ts";
import { sharedLoop, type EventLoop } from "../net/loop.ts";
import { discover } from "./discover.ts";
import { Initiator, type InitiatorOptions } from "./engine.ts";
import { formatTargetName, parseTargetName } from "./name.ts";
import type { Target } from "./target.ts";

export class SessionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SessionError";
  }
}

export interface SessionOptions extends InitiatorOptions {
  /** interface names (-i); default: every Ethernet interface that is up */
  interfaces?: string[];
  /** receive buffer, in frames, per interface */
  bufferFrames?: number;
}

export class Session {
  private constructor(
    readonly ini: Initiator,
    readonly links: RawLink[],
    private readonly loop: EventLoop,
  ) {}

  static open(o: SessionOptions = {}): Session {
    const names = o.interfaces?.length ? [...new Set(o.interfaces)] : defaultInterfaces();
    const links: RawLink[] = [];
    try {
      for (const name of names) links.push(openLink(name, o.bufferFrames ?? 1024));
    } catch (e) {
      for (const l of links) l.close();
      throw e;
    }
    const loop = sharedLoop();
    return new Session(new Initiator(loop, links, o), links, loop);
  }

  /** Every target answering within `timeoutMs`, sorted by shelf and slot. */
  discover(timeoutMs: number): Promise<Target[]> {
    return discover(this.ini, { timeoutMs });
  }

  /** The target named `name` (e9.0 or 9.0); SessionError when nothing answers. */
  async find(name: string, timeoutMs: number): Promise<Target> {
    const a = parseTargetName(name);
    if (!a) throw new SessionError(`"${name}" is not a target name: use e<shelf>.<slot>, such as e9.0`);
    const found = await discover(this.ini, { timeoutMs, shelf: a.shelf, slot: a.slot });
    const t = found[0];
    if (!t) {
      throw new SessionError(
        `target ${formatTargetName(a)} not found on ${this.links.map((l) => l.name).join(", ")} (no reply within ${timeoutMs} ms)`,
      );
    }
    return t;
  }

  /** find() and IDENTIFY: size, model, LBA48. */
  async open(name: string, timeoutMs: number): Promise<Target> {
    const t = await this.find(name, timeoutMs);
    await this.ini.identify(t);
    return t;
  }

  close(): void {
    this.ini.close();
    for (const l of this.links) l.close();
    // The shared loop stays: nothing is attached any more, so it keeps nothing alive.
    void this.loop;
  }
}

function defaultInterfaces(): string[] {
  let list;
  try {
    list = listEthernetInterfaces();
  } catch (e) {
    throw new SessionError(`cannot list network interfaces: ${(e as Error).message}`);
  }
  const up = list.filter((i) => i.running).map((i) => i.name);
  if (up.length === 0) {
    throw new SessionError("no usable interface: no Ethernet interface is up (name one with -i IFACE)");
  }
  return up;
}

function openLink(name: string, bufferFrames: number): RawLink {
  try {
    return openRawLink(name, { bufferFrames });
  } catch (e) {
    if (!(e instanceof RawLinkError)) throw e;
    switch (e.code) {
      case "EPERM":
      case "EACCES":
        throw new SessionError(`not enough privilege: raw Ethernet on ${name} needs root or CAP_NET_RAW`);
      case "ENODEV":
      case "ENXIO":
        throw new SessionError(`no usable interface: ${name} does not exist`);
      default:
        throw new SessionError(`no usable interface: ${name}: ${e.message}`);
    }
  }
}

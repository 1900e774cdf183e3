/**
 * Link events from the kernel, for a daemon that follows interfaces as they come
 * and go: a non-blocking socket the poller watches, read until empty. Linux:
 * rtnetlink (linux/rtnetlink.ts); FreeBSD: the routing socket (freebsd/route.ts,
 * UNVERIFIED on a FreeBSD kernel: its parser is tested with bytes only).
 */
import { Errno } from "./errno.ts";
import { lastError, libc } from "./libc.ts";
import { openRouteSocket, parseRouteMessages } from "./freebsd/route.ts";
import { openRtnetlink, parseLinkMessages } from "./linux/rtnetlink.ts";

export interface LinkEvent {
  kind: "new" | "del";
  index: number;
  /** IFF_* flags (0 when the message carries none) */
  flags: number;
  /** the interface's name, when the message carries it */
  name: string | undefined;
}

/** A subscribed, non-blocking event socket; read() drains what is waiting. */
export class LinkEventSocket {
  private readonly buf = new Uint8Array(new ArrayBuffer(64 * 1024));
  private closed = false;
  /** the kernel dropped events for want of room (ENOBUFS): rescan everything */
  overrun = false;

  constructor(
    readonly fd: number,
    private readonly parse: (buf: Uint8Array, len: number) => LinkEvent[],
    private readonly what: string,
  ) {}

  /** Every event waiting now (non-blocking). Sets `overrun` when the kernel lost some. */
  read(): LinkEvent[] {
    const events: LinkEvent[] = [];
    while (!this.closed) {
      const n = libc.read(this.fd, this.buf, this.buf.length);
      if (n < 0) {
        const e = lastError();
        if (e.errno === Errno.ENOBUFS) {
          this.overrun = true;
          continue;
        }
        if (e.errno !== Errno.EAGAIN && e.errno !== Errno.EINTR) throw new Error(`${this.what} read: ${e.text}`);
        break;
      }
      if (n === 0) break;
      events.push(...this.parse(this.buf, n));
    }
    return events;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.fd);
  }
}

/** This platform's link event socket; throws with errno's text, or where there is none. */
export function openLinkEvents(): LinkEventSocket {
  switch (process.platform) {
    case "linux":
      return new LinkEventSocket(openRtnetlink(), parseLinkMessages, "rtnetlink");
    case "freebsd":
      return new LinkEventSocket(openRouteSocket(), parseRouteMessages, "routing socket");
    default:
      throw new Error(`link events are not supported on ${process.platform}`);
  }
}

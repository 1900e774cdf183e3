/**
 * A raw-frame AoE client for end-to-end tests: a RawLink (usually in the
 * initiator's namespace) registered with the event loop, collecting every frame
 * received, with helpers to send requests and wait for their replies by tag.
 */
import { openRawLink, type RawLink } from "../../ffi/rawlink.ts";
import { sharedLoop } from "../../src/net/loop.ts";
import { parseReply, type Addr, type Reply } from "./requests.ts";

export class RawClient {
  readonly link: RawLink;
  /** every frame received, parsed, oldest first */
  readonly received: Reply[] = [];
  private readonly detach: () => void;
  private waiters: (() => void)[] = [];
  private nextTag = 0x1000;

  constructor(ifname: string, netns?: string) {
    this.link = openRawLink(ifname, { netns, bufferFrames: 1024 });
    this.detach = sharedLoop().attach(this.link, (frame) => {
      try {
        this.received.push(parseReply(frame));
      } catch {
        return; // not decodable as AoE: the tests look only at AoE replies
      }
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
  }

  get mac(): Uint8Array {
    return this.link.mac;
  }

  /** Address a target from this client. */
  to(dst: Uint8Array, major: number, minor: number): Addr {
    return { src: this.link.mac, dst, major, minor };
  }

  tag(): number {
    return this.nextTag++;
  }

  send(frame: Uint8Array): void {
    if (!this.link.send(frame)) throw new Error("send: kernel had no room");
  }

  /** Wait until `pred` holds over the received frames, or fail after `ms`. */
  async waitFor<T>(pred: (received: Reply[]) => T | undefined | false, ms = 2000, what = "reply"): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = pred(this.received);
      if (v !== undefined && v !== false) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Replies (R flag) carrying `tag`. */
  repliesTo(tag: number): Reply[] {
    return this.received.filter((r) => r.h.tag === tag && (r.h.flags & 0x08) !== 0);
  }

  /** Send a request and wait for its reply. */
  async ask(frame: Uint8Array, tag: number, ms = 2000): Promise<Reply> {
    this.send(frame);
    return this.waitFor(() => this.repliesTo(tag)[0], ms, `reply to tag ${tag}`);
  }

  /** Send a request and check that nothing answers it within `ms`. */
  async expectSilence(frame: Uint8Array, tag: number, ms = 300): Promise<void> {
    this.send(frame);
    await Bun.sleep(ms);
    const got = this.repliesTo(tag);
    if (got.length > 0) throw new Error(`expected no reply to tag ${tag}, got ${got.length}`);
  }

  close(): void {
    this.detach();
    this.link.close();
  }
}

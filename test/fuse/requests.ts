/** Building FUSE requests by hand, and a /dev/fuse stand-in that replays them, for the server's unit tests. */
import * as c from "../../src/fuse/codec.ts";
import { READ_AGAIN } from "../../ffi/fusedev.ts";
import type { Poller } from "../../ffi/poller.ts";
import { FuseServer, type ServerOptions } from "../../src/fuse/server.ts";
import type { Vfs } from "../../src/fuse/vfs.ts";

/** A whole request: in-header (len filled in) + body. */
export function request(opcode: number, body: Uint8Array = new Uint8Array(0), unique = 2n, nodeid = 1): Uint8Array {
  const msg = new Uint8Array(c.IN_HEADER_LEN + body.length);
  c.encodeInHeader({ len: msg.length, opcode, unique, nodeid, uid: 0, gid: 0, pid: 42, totalExtlen: 0 }, msg);
  msg.set(body, c.IN_HEADER_LEN);
  return msg;
}

export const cstr = (s: string) => new Uint8Array([...new TextEncoder().encode(s), 0]);

export function initRequest(unique = 2n): Uint8Array {
  const body = new Uint8Array(c.INIT_IN_LEN);
  c.encodeInitIn({ major: 7, minor: 45, maxReadahead: 131072, flags: 0x73fffffb, flags2: 0x5fd }, body, 0);
  return request(c.Opcode.INIT, body, unique);
}

export function readRequest(opcode: number, nodeid: number, fh: number, offset: number, size: number, unique: bigint): Uint8Array {
  const body = new Uint8Array(c.READ_IN_LEN);
  c.encodeReadIn({ fh, offset, size, flags: 0 }, body, 0);
  return request(opcode, body, unique, nodeid);
}

export function writeRequest(nodeid: number, fh: number, offset: number, data: Uint8Array, unique: bigint): Uint8Array {
  const body = new Uint8Array(c.WRITE_IN_LEN + data.length);
  c.encodeWriteIn({ fh, offset, data, writeFlags: 0, flags: 2 }, body, 0);
  return request(c.Opcode.WRITE, body, unique, nodeid);
}

export interface Reply {
  header: c.OutHeader;
  body: Uint8Array;
}

/** Replays queued requests as reads of /dev/fuse would return them; keeps every reply written. */
export class ScriptedChannel {
  readonly fd = -1;
  readonly queue: Uint8Array[] = [];
  readonly replies: Reply[] = [];
  closed = false;

  read(buf: Uint8Array): number {
    const m = this.queue.shift();
    if (!m) return READ_AGAIN;
    buf.set(m);
    return m.length;
  }

  write(buf: Uint8Array, len: number): string | undefined {
    const msg = buf.slice(0, len);
    this.replies.push({ header: c.decodeOutHeader(msg), body: msg.subarray(c.OUT_HEADER_LEN) });
    return undefined;
  }

  write2(head: Uint8Array, headLen: number, data: Uint8Array): string | undefined {
    const msg = new Uint8Array(headLen + data.length);
    msg.set(head.subarray(0, headLen));
    msg.set(data, headLen);
    return this.write(msg, msg.length);
  }

  close(): void {
    this.closed = true;
  }

  /** the replies to `unique` */
  to(unique: bigint): Reply[] {
    return this.replies.filter((r) => r.header.unique === unique);
  }
}

/** A server over a scripted channel, driven by hand: `turn()` is one poller wake. */
export function scriptedServer(vfs: Vfs, opts: Partial<ServerOptions> = {}) {
  const ch = new ScriptedChannel();
  let handler: (() => void) | undefined;
  const poller = { add: (_fd: number, h: () => void) => (handler = h), remove: () => (handler = undefined) } as unknown as Poller;
  const errors: string[] = [];
  const server = new FuseServer(ch, vfs, { onError: (m) => errors.push(m), ...opts }, poller);
  server.start();
  return {
    ch,
    server,
    errors,
    turn: () => handler?.(),
    /** queue, then run turns until the queue is empty */
    run(...msgs: Uint8Array[]) {
      ch.queue.push(...msgs);
      while (ch.queue.length > 0 && handler) handler();
    },
  };
}

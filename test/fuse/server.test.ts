/**
 * The server loop and the Vfs bridge without a kernel: requests replayed through a
 * scripted /dev/fuse, replies checked byte by byte. Interrupts, buffer holding and
 * the per-turn budget are hard to provoke on demand with a real mount; here they are
 * exact. (The real mounts are in mount.test.ts.)
 */
import { describe, expect, test } from "bun:test";
import * as c from "../../src/fuse/codec.ts";
import { VfsError } from "../../src/fuse/vfs.ts";
import { MemVfs } from "./memvfs.ts";
import { cstr, initRequest, readRequest, request, scriptedServer, writeRequest } from "./requests.ts";

const ROOT = 1;

function lookupIno(vfs: MemVfs, name: string, parent = ROOT): number {
  return vfs.lookup(parent, name).ino;
}

describe("requests and replies", () => {
  test("INIT is answered with a 64-byte fuse_init_out and the server counts as initialized", async () => {
    const s = scriptedServer(new MemVfs({ diskBytes: 4096 }));
    s.run(initRequest(2n));
    const [r] = s.ch.to(2n);
    expect(r!.header).toEqual({ len: 16 + 64, error: 0, unique: 2n });
    const out = c.decodeInitOut(r!.body);
    expect([out.major, out.minor, out.maxWrite, out.maxPages]).toEqual([7, 31, 1 << 20, 256]);
    await s.server.initialized;
  });

  test("LOOKUP: an entry for a name, ENOENT (uncached: an error, not a node-0 entry) for a miss", () => {
    const vfs = new MemVfs({ diskBytes: 4096 });
    const s = scriptedServer(vfs, { entryTimeout: 0.5, attrTimeout: 1 });
    s.run(initRequest(), request(c.Opcode.LOOKUP, cstr("hello"), 4n), request(c.Opcode.LOOKUP, cstr("nope"), 6n));
    const hit = s.ch.to(4n)[0]!;
    expect(hit.header.len).toBe(16 + 128);
    const e = c.decodeEntryOut(hit.body);
    expect(e.nodeid).toBe(lookupIno(vfs, "hello"));
    expect(e.entryValid).toBe(0.5);
    expect(e.attr.mode).toBe(c.S_IFREG | 0o664);
    expect(s.ch.to(6n)[0]!.header).toEqual({ len: 16, error: -2, unique: 6n });
  });

  test("unsupported operations: xattrs and FALLOCATE ENOSYS, creating names EPERM, FORGET/NOTIFY_REPLY unanswered", () => {
    const s = scriptedServer(new MemVfs({ diskBytes: 4096 }));
    s.run(
      initRequest(),
      request(c.Opcode.GETXATTR, new Uint8Array(16), 10n),
      request(c.Opcode.LISTXATTR, new Uint8Array(8), 12n),
      request(c.Opcode.FALLOCATE, new Uint8Array(32), 14n),
      request(c.Opcode.MKDIR, new Uint8Array(12), 16n),
      request(c.Opcode.CREATE, new Uint8Array(20), 18n),
      request(c.Opcode.FORGET, new Uint8Array(8), 20n),
      request(c.Opcode.NOTIFY_REPLY, new Uint8Array(8), 22n),
      request(c.Opcode.BATCH_FORGET, new Uint8Array(8), 24n),
    );
    expect([10n, 12n, 14n, 16n, 18n].map((u) => s.ch.to(u)[0]?.header.error)).toEqual([-38, -38, -38, -1, -1]);
    expect(s.ch.to(20n).length + s.ch.to(22n).length + s.ch.to(24n).length).toBe(0);
  });

  test("FreeBSD's numbers when serving FreeBSD: ENOSYS is -78, ENOENT -2", () => {
    const s = scriptedServer(new MemVfs({ diskBytes: 4096 }), { os: "freebsd" });
    s.run(initRequest(), request(c.Opcode.GETXATTR, new Uint8Array(16), 10n), request(c.Opcode.LOOKUP, cstr("x"), 12n));
    expect(s.ch.to(10n)[0]!.header.error).toBe(-78);
    expect(s.ch.to(12n)[0]!.header.error).toBe(-2);
  });

  test("a malformed request is answered EINVAL (no caller waits for ever) and reported", () => {
    const s = scriptedServer(new MemVfs({ diskBytes: 4096 }));
    s.run(initRequest(), request(c.Opcode.LOOKUP, new TextEncoder().encode("no-nul"), 8n), request(c.Opcode.READ, new Uint8Array(10), 10n));
    expect(s.ch.to(8n)[0]!.header.error).toBe(-22);
    expect(s.ch.to(10n)[0]!.header.error).toBe(-22);
    expect(s.server.stats.malformed).toBe(2);
    expect(s.errors.length).toBe(2);
  });

  test("a Vfs error keeps its errno; anything else thrown is EIO and reported", () => {
    const vfs = new MemVfs({ diskBytes: 4096 });
    const ctl = lookupIno(vfs, "ctl");
    vfs.getattr = (ino) => {
      if (ino === 99) throw new TypeError("boom");
      if (ino === 98) throw new VfsError("ETIMEDOUT");
      return MemVfs.prototype.getattr.call(vfs, ino);
    };
    const s = scriptedServer(vfs);
    s.run(
      initRequest(),
      request(c.Opcode.GETATTR, new Uint8Array(16), 4n, 99),
      request(c.Opcode.GETATTR, new Uint8Array(16), 6n, 98),
      writeRequest(ctl, 1, 0, new TextEncoder().encode("bad\n"), 8n),
    );
    expect(s.ch.to(4n)[0]!.header.error).toBe(-5);
    expect(s.errors.some((e) => e.includes("getattr"))).toBe(true);
    expect(s.ch.to(6n)[0]!.header.error).toBe(-110);
    expect(s.ch.to(8n)[0]!.header.error).toBe(-22);
  });

  test("OPEN: directIo files get FOPEN_DIRECT_IO, the disk does not; SETATTR size reaches setSize", () => {
    const vfs = new MemVfs({ diskBytes: 4096 });
    const hello = lookupIno(vfs, "hello");
    const disk = lookupIno(vfs, "disk");
    const s = scriptedServer(vfs);
    const setattr = new Uint8Array(c.SETATTR_IN_LEN);
    new DataView(setattr.buffer).setUint32(0, c.SetattrValid.SIZE | c.SetattrValid.LOCKOWNER, true);
    const chmod = new Uint8Array(c.SETATTR_IN_LEN);
    new DataView(chmod.buffer).setUint32(0, c.SetattrValid.MODE, true);
    s.run(
      initRequest(),
      request(c.Opcode.OPEN, new Uint8Array(8), 4n, hello),
      request(c.Opcode.OPEN, new Uint8Array(8), 6n, disk),
      request(c.Opcode.SETATTR, setattr, 8n, hello),
      readRequest(c.Opcode.READ, hello, 1, 0, 4096, 10n),
      request(c.Opcode.SETATTR, chmod, 12n, hello),
    );
    const flags = (u: bigint) => new DataView(s.ch.to(u)[0]!.body.buffer, s.ch.to(u)[0]!.body.byteOffset).getUint32(8, true);
    expect(flags(4n)).toBe(c.OpenReplyFlag.DIRECT_IO);
    expect(flags(6n)).toBe(0);
    expect(s.ch.to(8n)[0]!.header.len).toBe(16 + 104);
    expect(s.ch.to(10n)[0]!.body.length).toBe(0); // truncated to nothing
    expect(s.ch.to(12n)[0]!.header.error).toBe(-1);
  });

  test("READDIR in pieces: every name once, cookies continue where the last reply stopped", () => {
    const vfs = new MemVfs({ diskBytes: 4096 });
    for (let i = 0; i < 40; i++) vfs.textFile(ROOT, `file-with-a-longish-name-${i}`, "");
    const s = scriptedServer(vfs);
    s.run(initRequest(), request(c.Opcode.OPENDIR, new Uint8Array(8), 4n, ROOT));
    const fh = Number(new DataView(s.ch.to(4n)[0]!.body.buffer, s.ch.to(4n)[0]!.body.byteOffset).getBigUint64(0, true));
    const names: string[] = [];
    let offset = 0;
    for (let u = 10n; u < 100n; u += 2n) {
      s.run(readRequest(c.Opcode.READDIR, ROOT, fh, offset, 512, u));
      const ents = c.decodeDirents(s.ch.to(u)[0]!.body);
      if (ents.length === 0) break;
      names.push(...ents.map((e) => new TextDecoder().decode(e.name)));
      offset = ents.at(-1)!.off;
    }
    expect(names.slice(0, 2)).toEqual([".", ".."]);
    expect(names.length).toBe(2 + 4 + 40); // ., .., dir hello ctl disk, the 40
    expect(new Set(names).size).toBe(names.length);
  });

  test("READDIRPLUS gives each name its entry (node 0 for . and ..)", () => {
    const vfs = new MemVfs({ diskBytes: 4096 });
    const s = scriptedServer(vfs);
    s.run(initRequest(), request(c.Opcode.OPENDIR, new Uint8Array(8), 4n, ROOT), readRequest(c.Opcode.READDIRPLUS, ROOT, 1, 0, 4096, 6n));
    const recs = c.decodeDirentPlus(s.ch.to(6n)[0]!.body);
    const byName = new Map(recs.map((r) => [new TextDecoder().decode(r.dirent.name), r.entry]));
    expect(byName.get(".")!.nodeid).toBe(0);
    expect(byName.get("disk")!.nodeid).toBe(lookupIno(vfs, "disk"));
    expect(byName.get("disk")!.attr.size).toBe(4096);
  });

  test("STATFS reports the Vfs's blocks, and bavail = bfree", () => {
    const s = scriptedServer(new MemVfs({ diskBytes: 1 << 20 }));
    s.run(initRequest(), request(c.Opcode.STATFS, new Uint8Array(0), 4n));
    expect(c.decodeStatfsOut(s.ch.to(4n)[0]!.body)).toMatchObject({ blocks: 256, bfree: 1024, bavail: 1024, bsize: 4096, namelen: 255 });
  });
});

describe("outstanding requests", () => {
  test("async answers are sent when they come, in any order; many are pending at once", async () => {
    const vfs = new MemVfs({ diskBytes: 1 << 20, async: true });
    const disk = lookupIno(vfs, "disk");
    vfs.disk.data!.fill(7);
    const s = scriptedServer(vfs);
    s.run(initRequest(), ...[0, 1, 2, 3].map((i) => readRequest(c.Opcode.READ, disk, 1, i * 65536, 65536, BigInt(10 + 2 * i))));
    expect(s.server.stats.inFlight).toBe(4);
    await Bun.sleep(5);
    expect(s.server.stats.inFlight).toBe(0);
    for (const u of [10n, 12n, 14n, 16n]) {
      expect(s.ch.to(u).length).toBe(1);
      expect(s.ch.to(u)[0]!.body.length).toBe(65536);
    }
  });

  test("INTERRUPT: a pending target gets EINTR at once and its late answer is dropped; an unknown target is ignored", async () => {
    const vfs = new MemVfs({ diskBytes: 1 << 20 });
    let release!: (d: Uint8Array) => void;
    vfs.read = () => new Promise((r) => (release = r));
    const s = scriptedServer(vfs);
    const interrupt = (target: bigint, u: bigint) => {
      const body = new Uint8Array(8);
      new DataView(body.buffer).setBigUint64(0, target, true);
      return request(c.Opcode.INTERRUPT, body, u);
    };
    s.run(initRequest(), readRequest(c.Opcode.READ, 5, 1, 0, 4096, 20n), interrupt(20n, 21n), interrupt(999n, 23n));
    expect(s.ch.to(20n).map((r) => r.header.error)).toEqual([-4]);
    expect(s.ch.to(21n).length + s.ch.to(23n).length + s.ch.to(999n).length).toBe(0);
    release(new Uint8Array(10));
    await Bun.sleep(1);
    expect(s.ch.to(20n).length).toBe(1);
    expect(s.server.stats.interrupted).toBe(1);
  });

  test("a pending WRITE keeps its read buffer: later requests do not overwrite its data", async () => {
    const vfs = new MemVfs({ diskBytes: 1 << 20 });
    const seen: number[][] = [];
    const pending: (() => void)[] = [];
    vfs.write = (_i, _h, _o, data) =>
      new Promise((r) => pending.push(() => (seen.push([data[0]!, data[data.length - 1]!, data.length]), r(data.length))));
    const s = scriptedServer(vfs, { maxReadBuffers: 3 });
    s.run(initRequest());
    const w = (fill: number, u: bigint) => writeRequest(7, 1, 0, new Uint8Array(100_000).fill(fill), u);
    s.run(w(1, 10n), w(2, 12n), w(3, 14n), w(4, 16n), request(c.Opcode.LOOKUP, cstr("x".repeat(200)), 18n));
    expect(s.server.stats.readBuffers).toBe(3);
    expect(s.server.stats.writeCopies).toBe(2); // buffers 1..3: two held, the third is read into; then copies
    for (const f of pending) f();
    await Bun.sleep(1);
    expect(seen).toEqual([[1, 1, 100_000], [2, 2, 100_000], [3, 3, 100_000], [4, 4, 100_000]]);
    expect([10n, 12n, 14n, 16n].map((u) => new DataView(s.ch.to(u)[0]!.body.buffer, s.ch.to(u)[0]!.body.byteOffset).getUint32(0, true))).toEqual(Array(4).fill(100_000));
  });

  test("a late answer that cannot be sent (a Vfs bug) is EIO and reported, not an unhandled rejection", async () => {
    const vfs = new MemVfs({ diskBytes: 4096 });
    vfs.read = () => Promise.resolve("not bytes" as unknown as Uint8Array);
    const s = scriptedServer(vfs);
    s.run(initRequest(), readRequest(c.Opcode.READ, 5, 1, 0, 4096, 20n));
    await Bun.sleep(1);
    expect(s.ch.to(20n).map((r) => r.header.error)).toEqual([-5]);
    expect(s.errors.length).toBe(1);
  });

  test("at most requestsPerTurn requests per wake: the loop gets its turn in between", () => {
    const s = scriptedServer(new MemVfs({ diskBytes: 4096 }), { requestsPerTurn: 4 });
    s.ch.queue.push(initRequest(), ...Array.from({ length: 9 }, (_, i) => request(c.Opcode.STATFS, new Uint8Array(0), BigInt(4 + 2 * i))));
    s.turn();
    expect(s.ch.replies.length).toBe(4);
    s.turn();
    expect(s.ch.replies.length).toBe(8);
    s.turn();
    expect(s.ch.replies.length).toBe(10);
  });
});

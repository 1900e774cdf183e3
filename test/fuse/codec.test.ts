/** The FUSE codec, byte by byte: struct sizes, offsets, round trips, typed errors, INIT choices, errno tables. */
import { describe, expect, test } from "bun:test";
import * as c from "../../src/fuse/codec.ts";

import { cstr, request } from "./requests.ts";

describe("struct sizes match <linux/fuse.h>", () => {
  const sizes: [string, number, number][] = [
    ["fuse_in_header", c.IN_HEADER_LEN, 40],
    ["fuse_out_header", c.OUT_HEADER_LEN, 16],
    ["fuse_init_in", c.INIT_IN_LEN, 64],
    ["fuse_init_out", c.INIT_OUT_LEN, 64],
    ["fuse_attr", c.ATTR_LEN, 88],
    ["fuse_entry_out", c.ENTRY_OUT_LEN, 128],
    ["fuse_attr_out", c.ATTR_OUT_LEN, 104],
    ["fuse_getattr_in", c.GETATTR_IN_LEN, 16],
    ["fuse_setattr_in", c.SETATTR_IN_LEN, 88],
    ["fuse_open_in", c.OPEN_IN_LEN, 8],
    ["fuse_open_out", c.OPEN_OUT_LEN, 16],
    ["fuse_read_in", c.READ_IN_LEN, 40],
    ["fuse_write_in", c.WRITE_IN_LEN, 40],
    ["fuse_write_out", c.WRITE_OUT_LEN, 8],
    ["fuse_release_in", c.RELEASE_IN_LEN, 24],
    ["fuse_flush_in", c.FLUSH_IN_LEN, 24],
    ["fuse_fsync_in", c.FSYNC_IN_LEN, 16],
    ["fuse_access_in", c.ACCESS_IN_LEN, 8],
    ["fuse_forget_in", c.FORGET_IN_LEN, 8],
    ["fuse_batch_forget_in", c.BATCH_FORGET_IN_LEN, 8],
    ["fuse_forget_one", c.FORGET_ONE_LEN, 16],
    ["fuse_interrupt_in", c.INTERRUPT_IN_LEN, 8],
    ["fuse_statfs_out", c.STATFS_OUT_LEN, 80],
    ["fuse_dirent (fixed part)", c.DIRENT_HEADER_LEN, 24],
    ["fuse_direntplus (fixed part)", c.DIRENTPLUS_HEADER_LEN, 152],
    ["fuse_notify_inval_entry_out", c.INVAL_ENTRY_OUT_LEN, 16],
  ];
  for (const [name, got, want] of sizes) test(`${name} is ${want} bytes`, () => expect(got).toBe(want));
});

describe("headers", () => {
  test("in-header fields at their offsets", () => {
    const msg = request(c.Opcode.GETATTR, new Uint8Array(16), 0x1_0000_0002n, 7);
    const v = new DataView(msg.buffer);
    expect(v.getUint32(0, true)).toBe(56);
    expect(v.getUint32(4, true)).toBe(3);
    expect(v.getBigUint64(8, true)).toBe(0x1_0000_0002n);
    expect(v.getBigUint64(16, true)).toBe(7n);
    expect(v.getUint32(32, true)).toBe(42);
    const h = c.decodeInHeader(msg);
    expect(h).toEqual({ len: 56, opcode: 3, unique: 0x1_0000_0002n, nodeid: 7, uid: 0, gid: 0, pid: 42, totalExtlen: 0 });
  });

  test("out-header: error is minus errno, unique echoed exactly", () => {
    const out = new Uint8Array(16);
    expect(c.encodeOutHeader(out, 16, -2, 0xdead_beef_0000_0010n)).toBe(16);
    expect([...out.subarray(0, 8)]).toEqual([16, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
    expect(c.decodeOutHeader(out)).toEqual({ len: 16, error: -2, unique: 0xdead_beef_0000_0010n });
  });

  test("a header whose len disagrees with the bytes read is invalid; fewer than 40 bytes is short", () => {
    const msg = request(c.Opcode.STATFS);
    expect(() => c.decodeInHeader(msg.subarray(0, 39))).toThrow(c.DecodeError);
    try {
      c.decodeInHeader(msg.subarray(0, 39));
    } catch (e) {
      expect((e as c.DecodeError).kind).toBe("short");
      expect((e as c.DecodeError).field).toBe("in_header");
    }
    const longer = new Uint8Array(48);
    longer.set(msg);
    const err = (() => { try { c.decodeInHeader(longer); } catch (e) { return e as c.DecodeError; } })();
    expect(err?.kind).toBe("invalid");
    expect(err?.field).toBe("in_header.len");
  });
});

describe("requests", () => {
  test("LOOKUP carries a NUL-terminated name; the parent is the header's node", () => {
    const r = c.decodeRequest(request(c.Opcode.LOOKUP, cstr("data"), 4n, 9));
    expect(r.header.nodeid).toBe(9);
    expect(r.body).toEqual({ kind: "lookup", name: "data" });
  });

  const badNames: [string, Uint8Array, c.DecodeErrorKind][] = [
    ["no NUL", new TextEncoder().encode("abc"), "invalid"],
    ["empty body", new Uint8Array(0), "short"],
    ["empty name", new Uint8Array([0]), "invalid"],
    ["a slash", cstr("a/b"), "invalid"],
    ["not UTF-8", new Uint8Array([0xff, 0xfe, 0]), "invalid"],
    ["256 bytes", cstr("x".repeat(256)), "invalid"],
  ];
  for (const [what, body, kind] of badNames) {
    test(`LOOKUP with ${what}: DecodeError ${kind}`, () => {
      let err: unknown;
      try {
        c.decodeRequest(request(c.Opcode.LOOKUP, body));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(c.DecodeError);
      expect((err as c.DecodeError).kind).toBe(kind);
    });
  }

  test("WRITE: the data is a view of the request at offset 80, not a copy", () => {
    const body = new Uint8Array(c.WRITE_IN_LEN + 5);
    c.encodeWriteIn({ fh: 3, offset: 2 ** 40 + 1, data: new Uint8Array([1, 2, 3, 4, 5]), writeFlags: 1, flags: 0o2 }, body, 0);
    const msg = request(c.Opcode.WRITE, body);
    const r = c.decodeRequest(msg);
    if (r.body.kind !== "write") throw new Error(r.body.kind);
    expect(r.body.write.fh).toBe(3);
    expect(r.body.write.offset).toBe(2 ** 40 + 1);
    expect([...r.body.write.data]).toEqual([1, 2, 3, 4, 5]);
    msg[80] = 99;
    expect(r.body.write.data[0]).toBe(99);
    // size says 5 but only 4 bytes follow: short
    expect(() => c.decodeRequest(request(c.Opcode.WRITE, body.subarray(0, body.length - 1)))).toThrow(c.DecodeError);
  });

  test("READ, READDIR, READDIRPLUS share fuse_read_in", () => {
    const body = new Uint8Array(40);
    c.encodeReadIn({ fh: 5, offset: 4096, size: 131072, flags: 0 }, body, 0);
    for (const [op, kind] of [[c.Opcode.READ, "read"], [c.Opcode.READDIR, "readdir"], [c.Opcode.READDIRPLUS, "readdirplus"]] as const) {
      expect(c.decodeRequest(request(op, body)).body).toEqual({ kind, read: { fh: 5, offset: 4096, size: 131072, flags: 0 } });
    }
    expect(() => c.decodeRequest(request(c.Opcode.READ, body.subarray(0, 39)))).toThrow(c.DecodeError);
  });

  test("SETATTR: valid bits and size (`>` sends SIZE|LOCKOWNER, size 0)", () => {
    const body = new Uint8Array(88);
    const v = new DataView(body.buffer);
    v.setUint32(0, c.SetattrValid.SIZE | c.SetattrValid.LOCKOWNER, true);
    v.setBigUint64(16, 0n, true);
    v.setUint32(68, 0o100644, true);
    const r = c.decodeRequest(request(c.Opcode.SETATTR, body)).body;
    expect(r.kind === "setattr" && r.setattr.valid).toBe(0x208);
    expect(r.kind === "setattr" && r.setattr.size).toBe(0);
  });

  test("BATCH_FORGET: count entries follow; a count past the end is short", () => {
    const body = new Uint8Array(8 + 2 * 16);
    const v = new DataView(body.buffer);
    v.setUint32(0, 2, true);
    v.setBigUint64(8, 5n, true);
    v.setBigUint64(16, 1n, true);
    v.setBigUint64(24, 6n, true);
    v.setBigUint64(32, 3n, true);
    expect(c.decodeRequest(request(c.Opcode.BATCH_FORGET, body)).body).toEqual({
      kind: "batchForget",
      forgets: [{ nodeid: 5, nlookup: 1 }, { nodeid: 6, nlookup: 3 }],
    });
    v.setUint32(0, 0xffff_ffff, true);
    expect(() => c.decodeRequest(request(c.Opcode.BATCH_FORGET, body))).toThrow(c.DecodeError);
  });

  test("INTERRUPT names its target's unique", () => {
    const body = new Uint8Array(8);
    new DataView(body.buffer).setBigUint64(0, 0x1234n, true);
    expect(c.decodeRequest(request(c.Opcode.INTERRUPT, body, 0x1235n)).body).toEqual({ kind: "interrupt", target: 0x1234n });
  });

  test("GETATTR, FSYNC, RELEASE, FLUSH, ACCESS, OPEN, FORGET, INIT decode; unknown opcodes are 'other'", () => {
    expect(c.decodeRequest(request(c.Opcode.GETATTR, new Uint8Array(16))).body.kind).toBe("getattr");
    expect(c.decodeRequest(request(c.Opcode.FSYNC, new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]))).body).toEqual({ kind: "fsync", fsync: { fh: 7, fsyncFlags: 1 } });
    expect(c.decodeRequest(request(c.Opcode.RELEASE, new Uint8Array(24))).body.kind).toBe("release");
    expect(c.decodeRequest(request(c.Opcode.FLUSH, new Uint8Array(24))).body.kind).toBe("flush");
    expect(c.decodeRequest(request(c.Opcode.ACCESS, new Uint8Array([4, 0, 0, 0, 0, 0, 0, 0]))).body).toEqual({ kind: "access", access: { mask: 4 } });
    expect(c.decodeRequest(request(c.Opcode.OPEN, new Uint8Array([2, 2, 0, 0, 0, 0, 0, 0]))).body).toEqual({ kind: "open", open: { flags: 0o1002 } });
    expect(c.decodeRequest(request(c.Opcode.FORGET, new Uint8Array(8))).body.kind).toBe("forget");
    const init = new Uint8Array(64);
    c.encodeInitIn({ major: 7, minor: 45, maxReadahead: 131072, flags: 0x73fffffb, flags2: 0x5fd }, init, 0);
    expect(c.decodeRequest(request(c.Opcode.INIT, init)).body).toEqual({ kind: "init", init: { major: 7, minor: 45, maxReadahead: 131072, flags: 0x73fffffb, flags2: 0x5fd } });
    // a 7.28 kernel (FreeBSD) sends the old 16-byte init_in
    expect(c.decodeRequest(request(c.Opcode.INIT, init.subarray(0, 16))).body.kind).toBe("init");
    for (const op of [c.Opcode.GETXATTR, c.Opcode.LISTXATTR, c.Opcode.FALLOCATE, 200]) {
      expect(c.decodeRequest(request(op, new Uint8Array(3))).body).toEqual({ kind: "other" });
    }
  });
});

describe("replies", () => {
  const attr: c.Attr = {
    ino: 3, size: 1 << 30, blocks: 2 << 20, atime: 1.5, mtime: 1_700_000_000.25, ctime: 7,
    mode: 0o100644, nlink: 1, uid: 1000, gid: 100, rdev: 0, blksize: 4096,
  };

  test("entry_out: nodeid @0, valid times @16/@24 with nsec @32/@36, attr @40", () => {
    const out = new Uint8Array(16 + 128);
    expect(c.encodeEntryOut({ nodeid: 3, generation: 0, entryValid: 1, attrValid: 0.5, attr }, out, 16)).toBe(144);
    const v = new DataView(out.buffer, 16);
    expect(v.getBigUint64(0, true)).toBe(3n);
    expect(v.getBigUint64(16, true)).toBe(1n);
    expect(v.getBigUint64(24, true)).toBe(0n);
    expect(v.getUint32(36, true)).toBe(500_000_000);
    expect(v.getBigUint64(40 + 8, true)).toBe(1n << 30n); // size
    expect(v.getBigUint64(40 + 32, true)).toBe(1_700_000_000n); // mtime
    expect(v.getUint32(40 + 52, true)).toBe(250_000_000); // mtimensec
    expect(v.getUint32(40 + 60, true)).toBe(0o100644); // mode
    expect(v.getUint32(40 + 80, true)).toBe(4096); // blksize
    expect(c.decodeEntryOut(out, 16)).toEqual({ nodeid: 3, generation: 0, entryValid: 1, attrValid: 0.5, attr });
  });

  test("attr_out, open_out, write_out, statfs_out round trip at their sizes", () => {
    const out = new Uint8Array(256);
    expect(c.encodeAttrOut({ attrValid: 1, attr }, out, 0)).toBe(104);
    expect(c.decodeAttrOut(out)).toEqual({ attrValid: 1, attr });
    expect(c.encodeOpenOut({ fh: 9, openFlags: c.OpenReplyFlag.DIRECT_IO }, out, 0)).toBe(16);
    expect([...out.subarray(0, 16)]).toEqual([9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(c.encodeWriteOut(1 << 20, out, 0)).toBe(8);
    expect([...out.subarray(0, 8)]).toEqual([0, 0, 0x10, 0, 0, 0, 0, 0]);
    const s = { blocks: 100, bfree: 40, bavail: 40, files: 0, ffree: 0, bsize: 4096, namelen: 255, frsize: 4096 };
    expect(c.encodeStatfsOut(s, out, 0)).toBe(80);
    expect(c.decodeStatfsOut(out)).toEqual(s);
  });

  test("dirents are padded to 8 and carry the next entry's cookie", () => {
    const out = new Uint8Array(256);
    const name = (s: string) => new TextEncoder().encode(s);
    let at = c.encodeDirent({ ino: 1, off: 1, type: c.DT_DIR, name: name(".") }, out, 0);
    expect(at).toBe(32); // 24 + 1 → 32
    at = c.encodeDirent({ ino: 5, off: 2, type: c.DT_REG, name: name("12345678") }, out, at);
    expect(at).toBe(64); // 24 + 8 = 32: no padding needed
    const back = c.decodeDirents(out.subarray(0, at));
    expect(back.map((d) => [d.ino, d.off, d.type, new TextDecoder().decode(d.name)])).toEqual([[1, 1, 4, "."], [5, 2, 8, "12345678"]]);
    expect(c.direntPlusLen(1)).toBe(160);
    const plus = c.encodeDirentPlus({ nodeid: 5, generation: 0, entryValid: 1, attrValid: 1, attr }, { ino: 5, off: 3, type: c.DT_REG, name: name("data") }, out, 0);
    expect(plus).toBe(160);
    const p = c.decodeDirentPlus(out.subarray(0, plus));
    expect(p[0]!.entry.nodeid).toBe(5);
    expect(new TextDecoder().decode(p[0]!.dirent.name)).toBe("data");
  });

  test("NOTIFY_INVAL_ENTRY: unique 0, error = code 3, parent, namelen, name, NUL", () => {
    const msg = c.encodeNotifyInvalEntry(1, "9.0");
    expect(msg.length).toBe(16 + 16 + 3 + 1);
    expect(c.decodeOutHeader(msg)).toEqual({ len: 36, error: 3, unique: 0n });
    expect(c.decodeNotifyInvalEntry(msg.subarray(16))).toEqual({ parent: 1, name: "9.0" });
    expect(msg[35]).toBe(0);
    expect(() => c.encodeNotifyInvalEntry(1, "a/b")).toThrow(RangeError);
  });

  test("encoders refuse a buffer too small (a bug, not input): RangeError", () => {
    expect(() => c.encodeEntryOut({ nodeid: 1, generation: 0, entryValid: 0, attrValid: 0, attr }, new Uint8Array(100), 0)).toThrow(RangeError);
  });
});

describe("INIT negotiation", () => {
  const linux: c.InitIn = { major: 7, minor: 45, maxReadahead: 131072, flags: 0x73fffffb, flags2: 0x5fd };

  test("Linux 6.18's offer: minor 31, the flags wanted, 1 MiB writes in 256 pages", () => {
    const d = c.negotiateInit(linux);
    if (!d.ok) throw new Error(d.reason);
    const F = c.InitFlag;
    expect(d.reply.minor).toBe(31);
    expect(d.reply.flags).toBe(F.ASYNC_READ | F.BIG_WRITES | F.AUTO_INVAL_DATA | F.ASYNC_DIO | F.PARALLEL_DIROPS | F.MAX_PAGES | F.ABORT_ERROR | F.DO_READDIRPLUS);
    expect(d.reply.flags).toBe(0x64b021); // the notes' 0x449021 + ABORT_ERROR + DO_READDIRPLUS
    expect(d.reply.flags & F.WRITEBACK_CACHE).toBe(0);
    expect(d.reply.flags & F.ATOMIC_O_TRUNC).toBe(0);
    expect(d.reply.maxWrite).toBe(1 << 20);
    expect(d.reply.maxPages).toBe(256);
    expect(d.reply.maxReadahead).toBe(131072);
    expect(d.reply.maxBackground).toBe(64);
    expect(d.reply.congestionThreshold).toBe(48);
    expect(d.reply.timeGran).toBe(1);
    const out = new Uint8Array(64);
    expect(c.encodeInitOut(d.reply, out, 0)).toBe(64);
    expect(c.decodeInitOut(out)).toEqual(d.reply);
  });

  test("FreeBSD's 7.28 offer: minor 28, ASYNC_READ | BIG_WRITES only, no max_pages", () => {
    const F = c.InitFlag;
    const offer = F.ASYNC_READ | F.POSIX_LOCKS | F.EXPORT_SUPPORT | F.BIG_WRITES | F.WRITEBACK_CACHE | F.NO_OPEN_SUPPORT | F.NO_OPENDIR_SUPPORT;
    const d = c.negotiateInit({ major: 7, minor: 28, maxReadahead: 65536, flags: offer, flags2: 0 });
    if (!d.ok) throw new Error(d.reason);
    expect(d.reply.minor).toBe(28);
    expect(d.reply.flags).toBe(F.ASYNC_READ | F.BIG_WRITES);
    expect(d.reply.maxPages).toBe(0);
  });

  test("too old a kernel is refused; a newer major is told 7.31", () => {
    expect(c.negotiateInit({ ...linux, minor: 22 }).ok).toBe(false);
    expect(c.negotiateInit({ ...linux, major: 6 }).ok).toBe(false);
    const d = c.negotiateInit({ ...linux, major: 8 });
    expect(d.ok && [d.reply.major, d.reply.minor]).toEqual([7, 31]);
  });

  test("the read buffer holds max_write + 80 at least (Linux refuses less)", () => {
    expect(c.readBufferSize(1 << 20)).toBeGreaterThanOrEqual((1 << 20) + 80);
    expect(c.readBufferSize(4096)).toBe(8192);
  });
});

describe("errno numbers per OS", () => {
  const table: [c.ReplyErrno, number, number][] = [
    ["EPERM", 1, 1], ["ENOENT", 2, 2], ["EINTR", 4, 4], ["EIO", 5, 5], ["ENXIO", 6, 6], ["EAGAIN", 11, 35],
    ["EACCES", 13, 13], ["EBUSY", 16, 16], ["EEXIST", 17, 17], ["ENODEV", 19, 19], ["ENOTDIR", 20, 20],
    ["EISDIR", 21, 21], ["EINVAL", 22, 22], ["EFBIG", 27, 27], ["ENOSPC", 28, 28], ["EROFS", 30, 30],
    ["ENOSYS", 38, 78], ["ENOTEMPTY", 39, 66], ["ETIMEDOUT", 110, 60], ["ENOTSUP", 95, 45],
    ["EOPNOTSUPP", 95, 45], ["ENOTCONN", 107, 57], ["ECONNABORTED", 103, 53], ["ENODATA", 61, 87], ["EPROTO", 71, 92],
  ];
  for (const [name, linux, freebsd] of table) {
    test(`${name}: Linux -${linux}, FreeBSD -${freebsd}`, () => {
      expect(c.replyError(name, "linux")).toBe(-linux);
      expect(c.replyError(name, "freebsd")).toBe(-freebsd);
    });
  }

  test("every name the Vfs may use has a number on both (FreeBSD's within 1..97)", () => {
    for (const os of ["linux", "freebsd"] as const) {
      for (const [name, n] of Object.entries(c.errnoTableFor(os))) {
        expect(n).toBeGreaterThan(0);
        expect(n).toBeLessThan(os === "linux" ? 512 : 98);
        expect(c.isReplyErrno(name)).toBe(true);
      }
    }
    expect(c.isReplyErrno("EWHATEVER")).toBe(false);
  });
});

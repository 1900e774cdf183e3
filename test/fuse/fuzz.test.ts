/**
 * Fuzzing the FUSE codec and the server: random, truncated and bit-flipped requests.
 * The decoder throws DecodeError and nothing else; the server never throws, and every
 * reply it writes is a well-formed message (len = bytes, error 0 or a negative errno
 * below 512) to a request that expects one. The seed is printed; failures replay.
 */
import { describe, expect, test } from "bun:test";
import * as c from "../../src/fuse/codec.ts";
import { seededUint32 } from "../helpers/prng.ts";
import { MemVfs } from "./memvfs.ts";
import { cstr, initRequest, readRequest, request, scriptedServer, writeRequest } from "./requests.ts";

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 0xffff_ffff);
const ROUNDS = 20_000;

/** Valid requests of every opcode the codec decodes, as seeds for mutation. */
function validRequests(): Uint8Array[] {
  const interrupt = new Uint8Array(8);
  interrupt[0] = 4;
  const forgets = new Uint8Array(8 + 16);
  forgets[0] = 1;
  return [
    initRequest(),
    request(c.Opcode.LOOKUP, cstr("hello"), 4n),
    request(c.Opcode.GETATTR, new Uint8Array(16), 6n, 3),
    request(c.Opcode.SETATTR, new Uint8Array(88), 8n, 3),
    request(c.Opcode.OPEN, new Uint8Array(8), 10n, 3),
    readRequest(c.Opcode.READ, 3, 1, 0, 4096, 12n),
    writeRequest(6, 1, 3, new TextEncoder().encode("hello"), 14n),
    request(c.Opcode.RELEASE, new Uint8Array(24), 16n, 3),
    request(c.Opcode.FLUSH, new Uint8Array(24), 18n, 3),
    request(c.Opcode.FSYNC, new Uint8Array(16), 20n, 3),
    request(c.Opcode.OPENDIR, new Uint8Array(8), 22n, 1),
    readRequest(c.Opcode.READDIR, 1, 1, 0, 4096, 24n),
    readRequest(c.Opcode.READDIRPLUS, 1, 1, 0, 4096, 26n),
    request(c.Opcode.RELEASEDIR, new Uint8Array(24), 28n, 1),
    request(c.Opcode.STATFS, new Uint8Array(0), 30n),
    request(c.Opcode.ACCESS, new Uint8Array(8), 32n, 1),
    request(c.Opcode.RMDIR, cstr("dir"), 34n, 1),
    request(c.Opcode.UNLINK, cstr("hello"), 36n, 1),
    request(c.Opcode.INTERRUPT, interrupt, 5n),
    request(c.Opcode.FORGET, new Uint8Array(8), 38n, 3),
    request(c.Opcode.BATCH_FORGET, forgets, 40n),
    request(c.Opcode.GETXATTR, new Uint8Array(20), 42n, 1),
    request(c.Opcode.DESTROY, new Uint8Array(0), 44n),
  ];
}

/** Mutations: truncate, extend, flip bits, rewrite a field, fix up len (or not), or pure noise. */
function mutate(next: () => number, seeds: Uint8Array[]): Uint8Array {
  const kind = next() % 6;
  if (kind === 0) {
    const m = new Uint8Array(next() % 200);
    for (let i = 0; i < m.length; i++) m[i] = next() & 0xff;
    return m;
  }
  const base = seeds[next() % seeds.length]!;
  let m = base.slice();
  if (kind === 1) m = m.slice(0, next() % (m.length + 1));
  if (kind === 2) {
    const grown = new Uint8Array(m.length + (next() % 64));
    grown.set(m);
    m = grown;
  }
  if (kind === 3 || kind === 4) for (let i = next() % 6; i >= 0; i--) if (m.length) m[next() % m.length]! ^= 1 << (next() % 8);
  if (kind === 4 && m.length >= 44) {
    // a whole body field rewritten: sizes, counts, offsets
    const at = 40 + 4 * (next() % Math.floor((m.length - 40) / 4));
    new DataView(m.buffer).setUint32(at, next(), true);
  }
  // most of the time keep the header's len honest, so the body decoders get exercised
  if (m.length >= 4 && next() % 4 !== 0) new DataView(m.buffer).setUint32(0, m.length, true);
  return m;
}

describe("fuzz", () => {
  test(`decodeRequest throws only DecodeError (seed ${SEED}, ${ROUNDS} inputs)`, () => {
    const next = seededUint32(SEED);
    const seeds = validRequests();
    let decoded = 0;
    let rejected = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const m = mutate(next, seeds);
      try {
        c.decodeRequest(m);
        decoded++;
      } catch (e) {
        if (!(e instanceof c.DecodeError)) throw new Error(`seed ${SEED} input ${i} (${[...m].join(",")}): ${e}`);
        expect(["short", "invalid"]).toContain(e.kind);
        rejected++;
      }
    }
    console.log(`fuzz decode: ${decoded} decoded, ${rejected} rejected with DecodeError`);
    expect(decoded).toBeGreaterThan(ROUNDS / 10);
    expect(rejected).toBeGreaterThan(ROUNDS / 10);
  });

  test("every truncation of every valid request is either whole or a DecodeError", () => {
    for (const m of validRequests()) {
      for (let n = 0; n < m.length; n++) {
        const cut = m.slice(0, n);
        if (n >= 4) new DataView(cut.buffer).setUint32(0, n, true);
        try {
          c.decodeRequest(cut);
        } catch (e) {
          expect(e).toBeInstanceOf(c.DecodeError);
        }
      }
    }
  });

  test(`the server survives anything and replies only in well-formed messages (seed ${SEED})`, async () => {
    const next = seededUint32(SEED ^ 0x5a5a5a5a);
    const seeds = validRequests();
    const vfs = new MemVfs({ diskBytes: 1 << 16, async: true });
    const s = scriptedServer(vfs);
    s.run(initRequest());
    let sent = 1;
    for (let i = 0; i < ROUNDS / 4; i++) {
      const m = mutate(next, seeds);
      if (m.length === 0) continue; // a read(2) never returns 0 bytes of request
      sent++;
      s.run(m);
    }
    await Bun.sleep(20); // let the async answers come
    for (const r of s.ch.replies) {
      expect(r.header.len).toBe(16 + r.body.length);
      expect(r.header.error).toBeLessThanOrEqual(0);
      expect(r.header.error).toBeGreaterThan(-512);
      if (r.header.error !== 0) expect(r.body.length).toBe(0); // no body with an error (FreeBSD kills the session)
      expect(r.header.unique).not.toBe(0n);
    }
    console.log(`fuzz server: ${s.server.stats.requests} requests, ${s.ch.replies.length} replies, ${s.server.stats.malformed} malformed`);
    expect(s.server.stats.requests).toBe(sent);
  });
});

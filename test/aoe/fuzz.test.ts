/**
 * Fuzz: random and mutated frames through every decoder. The property is the
 * codec's contract: a decoder returns or throws DecodeError, nothing else, and
 * whatever it returns encodes back to something that decodes the same.
 *
 * Seeded, so a failure reproduces: AOE_FUZZ_SEED=<n> bun test test/aoe/fuzz
 * AOE_FUZZ_FRAMES raises the count for a longer run.
 */
import { expect, test } from "bun:test";
import {
  ATA_DATA_OFFSET,
  DecodeError,
  decodeAta,
  decodeConfig,
  decodeHeader,
  decodeMacMask,
  decodeReserve,
  encodeAta,
  encodeConfig,
  encodeHeader,
  encodeMacMask,
  encodeReserve,
  buildIdentify,
  newFrame,
  parseIdentify,
} from "../../src/aoe/index.ts";
import {
  concat,
  configReply,
  idnfReply,
  linuxQueryConfig,
  linuxReadExt,
  linuxReadLba28,
  linuxWriteExt,
  macMaskBadDirective,
  macMaskEdit,
  pad60,
  reserveConflict,
  reserveSet,
} from "./golden.ts";
import { seededRandom } from "../helpers/prng.ts";

const SEED = Number(process.env.AOE_FUZZ_SEED ?? 0x5eed_a0e);
const FRAMES = Number(process.env.AOE_FUZZ_FRAMES ?? 120_000);


const identifyFrame = concat(idnfReply.subarray(0, ATA_DATA_OFFSET), buildIdentify({ sectors: 0x1234567, model: "m", serial: "s", firmware: "f" }));
const goldens = [
  linuxQueryConfig,
  linuxReadLba28,
  linuxReadExt,
  linuxWriteExt,
  idnfReply,
  configReply,
  macMaskEdit,
  macMaskBadDirective,
  reserveSet,
  reserveConflict,
  identifyFrame,
].flatMap((f) => [f, pad60(f)]);

/** Offsets holding counts and lengths: sector count, Dir Count, NMacs, config length. */
const COUNT_FIELDS = [25, 26, 27, 30, 31];

function randomBytes(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

function makeFrame(rand: () => number): Uint8Array {
  const pick = (n: number) => (rand() * n) | 0;
  const golden = goldens[pick(goldens.length)]!;
  switch (pick(6)) {
    case 0: {
      // Pure noise, often with the right ethertype so it gets past the header.
      const f = randomBytes(rand, pick(rand() < 0.5 ? 64 : 1600));
      if (f.length >= 14 && rand() < 0.7) (f[12] = 0x88), (f[13] = 0xa2);
      return f;
    }
    case 1: {
      // Flip a few bytes.
      const f = golden.slice();
      for (let i = 1 + pick(8); i > 0; i--) f[pick(f.length)] = pick(256);
      return f;
    }
    case 2:
      return golden.slice(0, pick(golden.length + 1));
    case 3:
      return concat(golden, randomBytes(rand, pick(1100)));
    case 4: {
      // Hostile counts: some count field 0xFF, maybe a truncation on top.
      const f = golden.slice();
      for (let i = 1 + pick(3); i > 0; i--) {
        const at = COUNT_FIELDS[pick(COUNT_FIELDS.length)]!;
        if (at < f.length) f[at] = 0xff;
      }
      return rand() < 0.5 ? f : f.subarray(0, pick(f.length + 1));
    }
    default: {
      // Everything at once.
      const f = concat(golden, randomBytes(rand, pick(64))).slice(0, pick(golden.length + 64));
      for (let i = pick(4); i > 0; i--) f[pick(f.length)] = pick(256);
      for (let i = pick(2); i > 0; i--) {
        const at = COUNT_FIELDS[pick(COUNT_FIELDS.length)]!;
        if (at < f.length) f[at] = 0xff;
      }
      return f;
    }
  }
}

/** Every decoder, and for what decodes, an encode and a second decode that must agree. */
const checks: [string, (f: Uint8Array) => void][] = [
  [
    "header",
    (f) => {
      const h = decodeHeader(f);
      const out: Uint8Array = new Uint8Array(24);
      encodeHeader(h, out);
      if (!Buffer.from(out).equals(f.subarray(0, 24))) throw new Error("header round trip differs");
    },
  ],
  [
    "ata",
    (f) => {
      const a = decodeAta(f);
      const out = newFrame(f.length);
      encodeAta(a, out);
      if (!Buffer.from(out.subarray(24, 34)).equals(f.subarray(24, 34)) || !Buffer.from(out.subarray(36, f.length)).equals(f.subarray(36))) {
        throw new Error("ata round trip differs");
      }
    },
  ],
  [
    "config",
    (f) => {
      const q = decodeConfig(f);
      const out = newFrame(f.length);
      encodeConfig(q, out);
      expectSame(decodeConfig(out), q, "config");
    },
  ],
  [
    "macmask",
    (f) => {
      const m = decodeMacMask(f);
      const out = newFrame(f.length);
      encodeMacMask(m, out);
      expectSame(decodeMacMask(out), m, "macmask");
    },
  ],
  [
    "reserve",
    (f) => {
      const r = decodeReserve(f);
      const out = newFrame(f.length);
      encodeReserve(r, out);
      expectSame(decodeReserve(out), r, "reserve");
    },
  ],
  ["identify", (f) => void parseIdentify(f.subarray(ATA_DATA_OFFSET <= f.length ? ATA_DATA_OFFSET : f.length))],
];

function expectSame(a: unknown, b: unknown, what: string): void {
  if (!Bun.deepEquals(a, b)) throw new Error(`${what} round trip differs`);
}

test(`fuzz: ${FRAMES} frames through every decoder throw only DecodeError (seed ${SEED})`, () => {
  const rand = seededRandom(SEED);
  const failures: string[] = [];
  const outcomes: Record<string, { ok: number; short: number; invalid: number }> = {};
  for (const [name] of checks) outcomes[name] = { ok: 0, short: 0, invalid: 0 };
  for (let i = 0; i < FRAMES && failures.length < 10; i++) {
    const frame = makeFrame(rand);
    for (const [name, check] of checks) {
      try {
        check(frame);
        outcomes[name]!.ok++;
      } catch (e) {
        if (e instanceof DecodeError) outcomes[name]![e.kind]++;
        else failures.push(`frame ${i} (seed ${SEED}), ${name}: ${String(e)}: ${Buffer.from(frame).toString("hex")}`);
      }
    }
  }
  expect(failures).toEqual([]);
  // The generator must reach both sides of every decoder, or the run proves little.
  for (const [name, o] of Object.entries(outcomes)) {
    expect([name, o.ok > FRAMES / 100, o.short > FRAMES / 100]).toEqual([name, true, true]);
  }
  expect(outcomes.header!.invalid).toBeGreaterThan(0);
  expect(outcomes.config!.invalid).toBeGreaterThan(0);
}, 30_000);

import { expect, test } from "bun:test";
import { encodeProgram, ethertypeFilter, programHeader, runProgram } from "../../ffi/bpf-filter.ts";
import { ptr } from "bun:ffi";

test("the AoE filter encodes to ldh [12]; jeq #0x88a2, 0, 1; ret #-1; ret #0", () => {
  // The shape libpcap compiles 'ether proto 0x88a2' to (it returns its snap length
  // where we return 0xffffffff: the whole frame).
  const bytes = encodeProgram(ethertypeFilter(0x88a2));
  expect([...bytes]).toEqual([
    0x28, 0, 0, 0, 12, 0, 0, 0,
    0x15, 0, 0, 1, 0xa2, 0x88, 0, 0,
    0x06, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
    0x06, 0, 0, 0, 0, 0, 0, 0,
  ]);
});

test("the program header holds the instruction count and the code's address", () => {
  const code = encodeProgram(ethertypeFilter(0x88a2));
  const h = new DataView(programHeader(code).buffer);
  expect(h.getUint32(0, true)).toBe(4);
  expect(Number(h.getBigUint64(8, true))).toBe(ptr(code));
});

test("runProgram: accepts 0x88A2, drops other ethertypes and runt frames", () => {
  const prog = ethertypeFilter(0x88a2);
  const frame = (hi: number, lo: number) => {
    const f = new Uint8Array(60);
    f[12] = hi;
    f[13] = lo;
    return f;
  };
  expect(runProgram(prog, frame(0x88, 0xa2))).toBe(0xffffffff);
  expect(runProgram(prog, frame(0x08, 0x00))).toBe(0);
  expect(runProgram(prog, frame(0x81, 0x00))).toBe(0); // VLAN-tagged: not ours
  expect(runProgram(prog, frame(0xa2, 0x88))).toBe(0); // byte order matters
  expect(runProgram(prog, new Uint8Array(13))).toBe(0);
});

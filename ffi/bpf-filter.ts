/**
 * Classic BPF programs. The instruction format (struct sock_filter on Linux, struct
 * bpf_insn on FreeBSD: u16 code, u8 jt, u8 jf, u32 k, native byte order) and the
 * program header (Linux sock_fprog {u16 len; ptr}, FreeBSD bpf_program {u_int len; ptr},
 * both 16 bytes on 64-bit with the pointer at 8) are the same on both kernels, so
 * SO_ATTACH_FILTER and BIOCSETF take what this file builds.
 */
import { ptr } from "bun:ffi";

// Opcode parts from <linux/filter.h> / <net/bpf.h> (identical values).
const BPF_LD = 0x00;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_H = 0x08;
const BPF_ABS = 0x20;
const BPF_JEQ = 0x10;
const BPF_K = 0x00;

export const INSN_LEN = 8;

export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** ldh [offset] */
export const loadHalf = (offset: number): BpfInsn => ({ code: BPF_LD | BPF_H | BPF_ABS, jt: 0, jf: 0, k: offset });
/** jeq #k, jt, jf (relative skips) */
export const jumpIfEqual = (k: number, jt: number, jf: number): BpfInsn => ({ code: BPF_JMP | BPF_JEQ | BPF_K, jt, jf, k });
/** ret #k: accept k bytes (0 drops the packet) */
export const ret = (k: number): BpfInsn => ({ code: BPF_RET | BPF_K, jt: 0, jf: 0, k: k >>> 0 });

/** Accept whole frames whose ethertype (bytes 12-13) is `ethertype`; drop the rest. */
export function ethertypeFilter(ethertype: number): BpfInsn[] {
  return [loadHalf(12), jumpIfEqual(ethertype, 0, 1), ret(0xffffffff), ret(0)];
}

/** Instructions as the kernel reads them (little-endian hosts: x86-64, aarch64). */
export function encodeProgram(insns: readonly BpfInsn[]): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(insns.length * INSN_LEN));
  const dv = new DataView(out.buffer);
  insns.forEach((insn, i) => {
    const o = i * INSN_LEN;
    dv.setUint16(o, insn.code, true);
    dv.setUint8(o + 2, insn.jt);
    dv.setUint8(o + 3, insn.jf);
    dv.setUint32(o + 4, insn.k, true);
  });
  return out;
}

/**
 * The 16-byte program header pointing at `code`. The caller must keep `code`
 * referenced until the attaching call returns (the kernel copies it then).
 */
export function programHeader(code: Uint8Array): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(16));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, code.length / INSN_LEN, true);
  dv.setBigUint64(8, BigInt(ptr(code)), true);
  return out;
}

/** Run a program over a frame in user space (tests; same semantics as the kernel for the opcodes above). */
export function runProgram(insns: readonly BpfInsn[], frame: Uint8Array): number {
  let a = 0;
  for (let pc = 0; pc < insns.length; pc++) {
    const { code, jt, jf, k } = insns[pc]!;
    switch (code) {
      case BPF_LD | BPF_H | BPF_ABS:
        if (k + 2 > frame.length) return 0; // the kernel drops on an out-of-bounds load
        a = (frame[k]! << 8) | frame[k + 1]!;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a === k ? jt : jf;
        break;
      case BPF_RET | BPF_K:
        return k;
      default:
        throw new Error(`runProgram: opcode 0x${code.toString(16)} not supported`);
    }
  }
  return 0;
}

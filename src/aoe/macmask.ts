/**
 * The argument of command 2, Mac Mask List: AoE r11 section 3.3.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Reserved    |     MCmd      |    MError     |   Dir Count   |  24
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Reserved    |     DCmd      |     Ethernet Address ...      |  28
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |              ... Ethernet Address (6 bytes in all)            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 more directives, 8 bytes each                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Directives apply in order. On error the reply sets MError and the count to
 * the index of the failing directive; on success it carries the whole list.
 */
import { HEADER_LEN } from "./header.ts";
import { shortError } from "./errors.ts";

/** reserved, mcmd, merror, directive count. */
export const MAC_MASK_ARG_LEN = 1 + 1 + 1 + 1;

/** reserved, dcmd, Ethernet address. */
export const DIRECTIVE_LEN = 1 + 1 + 6;

/** Where the first directive starts in the frame. */
export const DIRECTIVES_OFFSET = HEADER_LEN + MAC_MASK_ARG_LEN;

/** MCmd (AoE r11, section 3.3). */
export const MacMaskCmd = {
  Read: 0,
  Edit: 1,
} as const;

/** MError (AoE r11, section 3.3). 0 means no error. */
export const MacMaskError = {
  Unspecified: 1,
  BadDirective: 2,
  ListFull: 3,
} as const;

/** DCmd (AoE r11, section 3.3). */
export const DirectiveCmd = {
  None: 0,
  Add: 1,
  Delete: 2,
} as const;

export interface Directive {
  dcmd: number;
  /** From decodeMacMask: a copy, safe to keep. */
  mac: Uint8Array;
}

export interface MacMaskArg {
  mcmd: number;
  merror: number;
  directives: Directive[];
  /**
   * The Dir Count byte. Decoded: always directives.length. Encoding: overrides
   * directives.length, because an error reply carries the failing directive's
   * index as the count while echoing the directives.
   */
  count?: number;
}

/** Decodes the Mac Mask List argument of a whole frame. */
export function decodeMacMask(frame: Uint8Array): MacMaskArg {
  if (frame.length < DIRECTIVES_OFFSET) throw shortError("macmask", DIRECTIVES_OFFSET, frame.length);
  const b = HEADER_LEN;
  const count = frame[b + 3]!;
  const end = DIRECTIVES_OFFSET + count * DIRECTIVE_LEN;
  if (frame.length < end) throw shortError("macmask directives", end, frame.length);
  const directives: Directive[] = new Array(count);
  for (let i = 0, at = DIRECTIVES_OFFSET; i < count; i++, at += DIRECTIVE_LEN) {
    directives[i] = { dcmd: frame[at + 1]!, mac: frame.slice(at + 2, at + DIRECTIVE_LEN) };
  }
  return { mcmd: frame[b + 1]!, merror: frame[b + 2]!, directives, count };
}

/** Writes the argument and every directive at 24; returns the frame's end offset. */
export function encodeMacMask(arg: MacMaskArg, out: Uint8Array): number {
  const n = arg.directives.length;
  const count = arg.count ?? n;
  if (n > 255 || count > 255) throw new RangeError(`aoe: a Mac Mask List holds at most 255 directives`);
  const end = DIRECTIVES_OFFSET + n * DIRECTIVE_LEN;
  if (out.length < end) throw new RangeError(`aoe: Mac Mask frame needs ${end} bytes, buffer has ${out.length}`);
  const b = HEADER_LEN;
  out[b] = 0;
  out[b + 1] = arg.mcmd;
  out[b + 2] = arg.merror;
  out[b + 3] = count;
  for (let i = 0, at = DIRECTIVES_OFFSET; i < n; i++, at += DIRECTIVE_LEN) {
    const d = arg.directives[i]!;
    out[at] = 0;
    out[at + 1] = d.dcmd;
    out.set(d.mac.subarray(0, 6), at + 2);
  }
  return end;
}

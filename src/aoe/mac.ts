/**
 * Ethernet (MAC) addresses: 6 bytes, as they sit in a frame. Parsing here is for
 * people (command lines, state files), so it throws a plain Error with a message
 * meant to be shown; frame decoding never goes through it.
 */

/** Length of an Ethernet address. */
export const MAC_LEN = 6;

/** ff:ff:ff:ff:ff:ff. Shared: never write into it. */
export const BROADCAST_MAC: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

const colonOrDash = /^([0-9a-f]{1,2})([:-])([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})$/i;
const bareHex = /^[0-9a-f]{12}$/i;

/**
 * Parses "00:11:22:33:44:55", "00-11-22-33-44-55" or "001122334455" (the form
 * vblade's -m takes). One-digit groups ("0:11:...") are accepted in the
 * separated forms, as ip(8) and ifconfig print them.
 */
export function parseMac(s: string): Uint8Array {
  const text = s.trim();
  const out = new Uint8Array(MAC_LEN);
  if (bareHex.test(text)) {
    for (let i = 0; i < MAC_LEN; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  const m = colonOrDash.exec(text);
  if (m === null) {
    throw new Error(
      `invalid MAC address "${s}": expected six hex bytes such as 00:11:22:33:44:55, 00-11-22-33-44-55 or 001122334455`,
    );
  }
  const groups = [m[1], m[3], m[4], m[5], m[6], m[7]];
  for (let i = 0; i < MAC_LEN; i++) out[i] = parseInt(groups[i]!, 16);
  return out;
}

/** Lower-case colon form: "00:11:22:33:44:55". */
export function formatMac(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < MAC_LEN; i++) {
    const v = b[i] ?? 0;
    s += (i === 0 ? "" : ":") + (v < 16 ? "0" : "") + v.toString(16);
  }
  return s;
}

/** True when the first 6 bytes of a and b are the same address. */
export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4] && a[5] === b[5]
  );
}

/** The I/G bit: group (multicast or broadcast) addresses have bit 0 of byte 0 set. */
export function isMulticast(b: Uint8Array): boolean {
  return ((b[0] ?? 0) & 1) === 1;
}

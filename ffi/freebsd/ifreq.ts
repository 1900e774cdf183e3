/**
 * FreeBSD interface queries with struct ifreq (32 bytes on amd64: name @0..15,
 * union @16). UNVERIFIED on a FreeBSD kernel.
 */
import { RawLinkError } from "../errors.ts";
import { libc } from "../libc.ts";
import { SIOCGIFMTU, SIZEOF } from "./ioctl.ts";

const IFNAMSIZ = 16;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0x10000000;

export function ifreqFor(name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ) {
    throw new RawLinkError("ENODEV", `bad interface name ${JSON.stringify(name)} (1 to ${IFNAMSIZ - 1} bytes)`);
  }
  const req = new Uint8Array(new ArrayBuffer(SIZEOF.ifreq));
  req.set(bytes);
  return req;
}

/** SIOCGIFMTU on a datagram socket; 1500 when the kernel will not say (as vblade does). */
export function interfaceMtu(name: string): number {
  const s = libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return 1500;
  try {
    const req = ifreqFor(name);
    if (libc.ioctl(s, SIOCGIFMTU, req) !== 0) return 1500; // vblade assumes 1500 too
    return new DataView(req.buffer).getInt32(16, true);
  } finally {
    libc.close(s);
  }
}

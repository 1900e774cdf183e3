/**
 * Interface queries through ioctl on a socket, with struct ifreq (40 bytes on
 * x86-64 Linux: name @0..15, union @16). They act in the socket's network namespace.
 */
import { lastError, libc } from "../libc.ts";
import { RawLinkError } from "../errors.ts";

export const IFNAMSIZ = 16;
const IFREQ_LEN = 40;

export const SIOCGIFFLAGS = 0x8913;
export const SIOCGIFMTU = 0x8921;
export const SIOCGIFHWADDR = 0x8927;
export const SIOCGIFINDEX = 0x8933;

export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const IFF_RUNNING = 0x40;
export const ARPHRD_ETHER = 1;

/** An ifreq carrying `name`, the union zeroed. */
export function ifreqFor(name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ) {
    throw new RawLinkError("ENODEV", `bad interface name ${JSON.stringify(name)} (1 to ${IFNAMSIZ - 1} bytes)`);
  }
  const req = new Uint8Array(new ArrayBuffer(IFREQ_LEN));
  req.set(bytes);
  return req;
}

function ioctlOrThrow(fd: number, request: number, req: Uint8Array, name: string, what: string): DataView {
  if (libc.ioctl(fd, request, req) !== 0) {
    const e = lastError();
    const msg =
      e.code === "ENODEV"
        ? `no such network interface: ${name}`
        : `cannot read ${what} of ${name}: ${e.text}`;
    throw new RawLinkError(e.code, msg);
  }
  return new DataView(req.buffer, req.byteOffset, req.byteLength);
}

export function interfaceIndex(fd: number, name: string): number {
  return ioctlOrThrow(fd, SIOCGIFINDEX, ifreqFor(name), name, "the index").getInt32(16, true);
}

export function interfaceMtu(fd: number, name: string): number {
  return ioctlOrThrow(fd, SIOCGIFMTU, ifreqFor(name), name, "the MTU").getInt32(16, true);
}

export function interfaceFlags(fd: number, name: string): number {
  return ioctlOrThrow(fd, SIOCGIFFLAGS, ifreqFor(name), name, "the flags").getUint16(16, true);
}

/** Hardware type (ARPHRD_*) and the 6-byte address. */
export function interfaceHwaddr(fd: number, name: string): { hatype: number; mac: Uint8Array } {
  const req = ifreqFor(name);
  const dv = ioctlOrThrow(fd, SIOCGIFHWADDR, req, name, "the hardware address");
  return { hatype: dv.getUint16(16, true), mac: req.slice(18, 24) };
}

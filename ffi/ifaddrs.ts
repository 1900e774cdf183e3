/**
 * getifaddrs(): every interface's link-level address (MAC) and flags. struct
 * ifaddrs has the same LP64 layout in glibc and FreeBSD's libc (ifa_next @0,
 * ifa_name @8, ifa_flags u32 @16, ifa_addr @24, ifa_netmask @32, ifa_dstaddr @40,
 * ifa_data @48), so one walker serves both; the Linux run of the tests checks it.
 */
import { CString, read, toArrayBuffer, type Pointer } from "bun:ffi";
import { libc } from "./libc.ts";
import { RawLinkError } from "./errors.ts";
import { lastError } from "./libc.ts";
import { AF_LINK_FREEBSD, AF_PACKET_LINUX, parseSockaddrDl, parseSockaddrLl, type LinkAddress } from "./sockaddr.ts";

export interface InterfaceLink {
  name: string;
  /** IFF_* (IFF_UP 0x1, IFF_LOOPBACK 0x8, IFF_RUNNING 0x40 on both systems) */
  flags: number;
  link: LinkAddress;
}

const isFreeBSD = process.platform === "freebsd";

function linkAddressAt(addr: Pointer): LinkAddress | undefined {
  if (isFreeBSD) {
    if (read.u8(addr, 1) !== AF_LINK_FREEBSD) return undefined;
    const len = read.u8(addr, 0);
    return parseSockaddrDl(new Uint8Array(toArrayBuffer(addr, 0, len)).slice());
  }
  if (read.u16(addr, 0) !== AF_PACKET_LINUX) return undefined;
  return parseSockaddrLl(new Uint8Array(toArrayBuffer(addr, 0, 20)).slice());
}

/** The link-level entry of every interface (in the calling thread's namespace on Linux). */
export function interfaceLinks(): InterfaceLink[] {
  const head = new BigUint64Array(new ArrayBuffer(8));
  if (libc.getifaddrs(head) !== 0) {
    const e = lastError();
    throw new RawLinkError(e.code, `getifaddrs: ${e.text}`);
  }
  const first = Number(head[0]!);
  const out: InterfaceLink[] = [];
  try {
    for (let p = first; p !== 0; p = Number(read.ptr(p as Pointer, 0))) {
      const addr = read.ptr(p as Pointer, 24);
      if (!addr) continue;
      const link = linkAddressAt(addr as Pointer);
      if (!link) continue;
      const name = new CString(read.ptr(p as Pointer, 8) as Pointer).toString();
      out.push({ name, flags: read.u32(p as Pointer, 16), link });
    }
  } finally {
    if (first) libc.freeifaddrs(first as Pointer);
  }
  return out;
}

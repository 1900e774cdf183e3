/**
 * Which Ethernet interfaces are up, for the initiator's default.
 *
 * Not /sys/class/net: sysfs shows the namespace of whoever mounted it, not the
 * caller's, so it cannot answer for a named namespace. Not `ip -j link`: a child
 * process per query and a dependency on iproute2. Instead, inside the namespace
 * (withNetns), libc's if_nameindex() lists the names over netlink, and ioctls on a
 * datagram socket created there read flags, hardware type, address and MTU.
 */
import { CString, read } from "bun:ffi";
import { libc } from "../libc.ts";
import { RawLinkError } from "../errors.ts";
import {
  ARPHRD_ETHER,
  IFF_LOOPBACK,
  IFF_RUNNING,
  IFF_UP,
  interfaceFlags,
  interfaceHwaddr,
  interfaceMtu,
} from "./ifreq.ts";
import { withNetns } from "./netns.ts";

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0x80000;

export interface EthernetInterface {
  readonly name: string;
  readonly index: number;
  readonly mac: Uint8Array;
  readonly mtu: number;
  /** carrier present (IFF_RUNNING); an up veth whose peer is down is not running */
  readonly running: boolean;
}

function interfaceNames(): { index: number; name: string }[] {
  const list = libc.if_nameindex();
  if (!list) return [];
  const out: { index: number; name: string }[] = [];
  try {
    // struct if_nameindex { unsigned if_index; char *if_name; }: 16 bytes, ends with {0, NULL}
    for (let off = 0; ; off += 16) {
      const index = read.u32(list, off);
      const namePtr = read.ptr(list, off + 8);
      if (index === 0 || !namePtr) break;
      out.push({ index, name: new CString(namePtr as never).toString() });
    }
  } finally {
    libc.if_freenameindex(list);
  }
  return out;
}

/** Interfaces that are administratively up, Ethernet (ARPHRD_ETHER), not loopback. */
export function listEthernetInterfaces(opts: { netns?: string } = {}): EthernetInterface[] {
  return withNetns(opts.netns, () => {
    const fd = libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new RawLinkError("EIO", "cannot open a socket to list interfaces");
    try {
      const found: EthernetInterface[] = [];
      for (const { index, name } of interfaceNames()) {
        try {
          const flags = interfaceFlags(fd, name);
          if ((flags & IFF_UP) === 0 || (flags & IFF_LOOPBACK) !== 0) continue;
          const { hatype, mac } = interfaceHwaddr(fd, name);
          if (hatype !== ARPHRD_ETHER) continue;
          found.push({ name, index, mac, mtu: interfaceMtu(fd, name), running: (flags & IFF_RUNNING) !== 0 });
        } catch (e) {
          if (!(e instanceof RawLinkError)) throw e; // vanished meanwhile: skip it
        }
      }
      return found;
    } finally {
      libc.close(fd);
    }
  });
}

/**
 * FreeBSD: Ethernet interfaces that are up, from getifaddrs() (AF_LINK entries carry
 * the type and the MAC) and SIOCGIFMTU. UNVERIFIED on a FreeBSD kernel; the
 * getifaddrs walk is the one the Linux tests exercise.
 */
import { interfaceLinks } from "../ifaddrs.ts";
import type { EthernetInterface } from "../linux/interfaces.ts";
import { IFT_BRIDGE, IFT_ETHER, IFT_L2VLAN } from "../sockaddr.ts";
import { interfaceMtu } from "./ifreq.ts";

const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_RUNNING = 0x40;

export function listEthernetInterfaces(): EthernetInterface[] {
  return interfaceLinks()
    .filter(({ flags, link }) =>
      (flags & IFF_UP) !== 0 &&
      (flags & IFF_LOOPBACK) === 0 &&
      [IFT_ETHER, IFT_L2VLAN, IFT_BRIDGE].includes(link.type) &&
      link.address.length === 6,
    )
    .map(({ name, flags, link }) => ({
      name,
      index: link.index,
      mac: link.address,
      mtu: interfaceMtu(name),
      running: (flags & IFF_RUNNING) !== 0,
    }));
}

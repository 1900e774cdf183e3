/**
 * Link events from the kernel: an AF_NETLINK/NETLINK_ROUTE socket subscribed to
 * RTMGRP_LINK receives RTM_NEWLINK (created, up, down, renamed, MTU...) and
 * RTM_DELLINK (deleted) for every interface of this network namespace. The socket
 * is non-blocking and pollable: the poller watches it like any link, so following
 * interfaces costs nothing while nothing changes.
 *
 * Message layout (<linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>):
 *
 *   struct nlmsghdr  { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }      16 bytes
 *   struct ifinfomsg { u8 family; u8 pad; u16 type; i32 index; u32 flags; u32 change; }  1 + 1 + 2 + 4 + 4 + 4
 *   struct rtattr    { u16 len; u16 type; } + payload, each padded to 4 bytes
 *
 * IFLA_IFNAME (3) carries the name, NUL-terminated. Host byte order (little-endian
 * on the platforms AoEde builds for).
 */
import type { LinkEvent } from "../link-events.ts";
import { lastError, libc } from "../libc.ts";

export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;
export const RTMGRP_LINK = 1;
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const IFLA_IFNAME = 3;
export const NLMSGHDR_LEN = 16;
export const IFINFOMSG_LEN = 1 + 1 + 2 + 4 + 4 + 4;
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;

const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;

export type { LinkEvent };

const align4 = (n: number) => (n + 3) & ~3;

/**
 * The link events in `buf[0, len)`: every RTM_NEWLINK and RTM_DELLINK, in order.
 * Other messages are skipped; a truncated or malformed message ends the parse
 * (what came before it is returned). Pure.
 */
export function parseLinkMessages(buf: Uint8Array, len = buf.length): LinkEvent[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, Math.min(len, buf.length));
  const out: LinkEvent[] = [];
  let off = 0;
  while (off + NLMSGHDR_LEN <= dv.byteLength) {
    const msgLen = dv.getUint32(off, true);
    const type = dv.getUint16(off + 4, true);
    if (msgLen < NLMSGHDR_LEN || off + msgLen > dv.byteLength) break;
    if ((type === RTM_NEWLINK || type === RTM_DELLINK) && msgLen >= NLMSGHDR_LEN + IFINFOMSG_LEN) {
      const body = off + NLMSGHDR_LEN;
      const ev: LinkEvent = {
        kind: type === RTM_NEWLINK ? "new" : "del",
        index: dv.getInt32(body + 4, true),
        flags: dv.getUint32(body + 8, true),
        name: undefined,
      };
      let a = body + IFINFOMSG_LEN;
      const end = off + msgLen;
      while (a + 4 <= end) {
        const attrLen = dv.getUint16(a, true);
        const attrType = dv.getUint16(a + 2, true) & 0x3fff; // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
        if (attrLen < 4 || a + attrLen > end) break;
        if (attrType === IFLA_IFNAME) {
          const bytes = buf.subarray(a + 4, a + attrLen);
          const nul = bytes.indexOf(0);
          ev.name = new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul));
        }
        a += align4(attrLen);
      }
      out.push(ev);
    }
    off += align4(msgLen);
  }
  return out;
}

/** A non-blocking NETLINK_ROUTE socket subscribed to RTMGRP_LINK, in this thread's namespace; its descriptor. */
export function openRtnetlink(): number {
  const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw new Error(`rtnetlink socket: ${lastError().text}`);
  // struct sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups; }: 2 + 2 + 4 + 4
  const sa = new Uint8Array(new ArrayBuffer(12));
  const dv = new DataView(sa.buffer);
  dv.setUint16(0, AF_NETLINK, true);
  dv.setUint32(8, RTMGRP_LINK, true);
  if (libc.bind(fd, sa, sa.length) !== 0) {
    const e = lastError();
    libc.close(fd);
    throw new Error(`rtnetlink bind: ${e.text}`);
  }
  return fd;
}

/**
 * FreeBSD's link events: a PF_ROUTE socket (socket(PF_ROUTE, SOCK_RAW, AF_UNSPEC))
 * receives RTM_IFANNOUNCE when an interface arrives or departs and RTM_IFINFO when
 * its flags change (up, down, running). The daemon would watch it with the poller
 * exactly as rtnetlink on Linux (src/daemon/watch.ts); only the parser is here,
 * unit-tested with bytes, since no FreeBSD kernel runs in this project's CI.
 *
 * Layouts (<net/if.h>, <net/route.h>; FreeBSD 14 amd64, host byte order):
 *
 *   struct if_announcemsghdr { u16 ifan_msglen; u8 ifan_version; u8 ifan_type;
 *                              u16 ifan_index; char ifan_name[16]; u16 ifan_what; }   2 + 1 + 1 + 2 + 16 + 2
 *   struct if_msghdr         { u16 ifm_msglen; u8 ifm_version; u8 ifm_type;
 *                              i32 ifm_addrs; i32 ifm_flags; u16 ifm_index; ... }     flags @8, index @12
 *
 * Every routing message starts with msglen, version (RTM_VERSION 5) and type.
 */
import type { LinkEvent } from "../link-events.ts";
import { lastError, libc } from "../libc.ts";

const PF_ROUTE = 17;
const AF_UNSPEC = 0;
const SOCK_RAW = 3;
const SOCK_NONBLOCK_FREEBSD = 0x20000000;
const SOCK_CLOEXEC_FREEBSD = 0x10000000;

/** A non-blocking routing socket (every message of every family); its descriptor. */
export function openRouteSocket(): number {
  const fd = libc.socket(PF_ROUTE, SOCK_RAW | SOCK_NONBLOCK_FREEBSD | SOCK_CLOEXEC_FREEBSD, AF_UNSPEC);
  if (fd < 0) throw new Error(`routing socket: ${lastError().text}`);
  return fd;
}

export const RTM_VERSION = 5;
export const RTM_IFINFO = 0x0e;
export const RTM_IFANNOUNCE = 0x11;
export const IFAN_ARRIVAL = 0;
export const IFAN_DEPARTURE = 1;
export const IF_ANNOUNCEMSGHDR_LEN = 2 + 1 + 1 + 2 + 16 + 2;
/** if_msghdr up to and including ifm_index */
export const IF_MSGHDR_MIN = 2 + 1 + 1 + 4 + 4 + 2;

/** Link events in `buf[0, len)`; other routing messages are skipped, a malformed one ends the parse. Pure. */
export function parseRouteMessages(buf: Uint8Array, len = buf.length): LinkEvent[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, Math.min(len, buf.length));
  const out: LinkEvent[] = [];
  let off = 0;
  while (off + 4 <= dv.byteLength) {
    const msgLen = dv.getUint16(off, true);
    const version = dv.getUint8(off + 2);
    const type = dv.getUint8(off + 3);
    if (msgLen < 4 || off + msgLen > dv.byteLength) break;
    if (version === RTM_VERSION) {
      if (type === RTM_IFANNOUNCE && msgLen >= IF_ANNOUNCEMSGHDR_LEN) {
        const nameBytes = buf.subarray(off + 6, off + 22);
        const nul = nameBytes.indexOf(0);
        const what = dv.getUint16(off + 22, true);
        if (what === IFAN_ARRIVAL || what === IFAN_DEPARTURE) {
          out.push({
            kind: what === IFAN_ARRIVAL ? "new" : "del",
            index: dv.getUint16(off + 4, true),
            flags: 0,
            name: new TextDecoder().decode(nul < 0 ? nameBytes : nameBytes.subarray(0, nul)),
          });
        }
      } else if (type === RTM_IFINFO && msgLen >= IF_MSGHDR_MIN) {
        out.push({ kind: "new", index: dv.getUint16(off + 12, true), flags: dv.getInt32(off + 8, true) >>> 0, name: undefined });
      }
    }
    off += msgLen;
  }
  return out;
}

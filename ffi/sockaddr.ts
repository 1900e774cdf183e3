/**
 * Link-level socket addresses as getifaddrs() returns them. Pure parsers over
 * bytes. BSD sockaddrs start with a length byte and a one-byte family; Linux ones
 * with a two-byte family.
 */

/** FreeBSD AF_LINK */
export const AF_LINK_FREEBSD = 18;
/** Linux AF_PACKET */
export const AF_PACKET_LINUX = 17;

/** <net/if_types.h> */
export const IFT_ETHER = 0x06;
export const IFT_L2VLAN = 0x87;
export const IFT_BRIDGE = 0xd1;

export interface LinkAddress {
  index: number;
  /** interface type (IFT_* on FreeBSD, ARPHRD_* on Linux) */
  type: number;
  /** hardware address (6 bytes for Ethernet) */
  address: Uint8Array;
  /** the interface name, when the address carries it (FreeBSD) */
  name?: string;
}

/**
 * FreeBSD struct sockaddr_dl (<net/if_dl.h>): sdl_len u8 @0, sdl_family u8 @1,
 * sdl_index u16 @2, sdl_type u8 @4, sdl_nlen u8 @5, sdl_alen u8 @6, sdl_slen u8 @7,
 * sdl_data @8: the name (nlen bytes, no NUL) then the address (LLADDR). Returns
 * undefined for anything else or anything cut short.
 */
export function parseSockaddrDl(b: Uint8Array): LinkAddress | undefined {
  if (b.length < 8 || b[1] !== AF_LINK_FREEBSD) return undefined;
  const sdlLen = b[0]!;
  const nlen = b[5]!;
  const alen = b[6]!;
  const end = 8 + nlen + alen;
  if (end > b.length || (sdlLen !== 0 && end > sdlLen)) return undefined;
  return {
    index: b[2]! | (b[3]! << 8),
    type: b[4]!,
    name: new TextDecoder().decode(b.subarray(8, 8 + nlen)),
    address: b.slice(8 + nlen, end),
  };
}

/**
 * Linux struct sockaddr_ll (getifaddrs' AF_PACKET entries): family u16 @0,
 * protocol @2, ifindex i32 @4, hatype u16 @8, pkttype @10, halen u8 @11, addr @12.
 */
export function parseSockaddrLl(b: Uint8Array): LinkAddress | undefined {
  if (b.length < 20) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint16(0, true) !== AF_PACKET_LINUX) return undefined;
  const halen = Math.min(b[11]!, 8);
  return { index: dv.getInt32(4, true), type: dv.getUint16(8, true), address: b.slice(12, 12 + halen) };
}

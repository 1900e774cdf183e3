/**
 * Whole Ethernet frames: allocation and size limits.
 */
import { ATA_DATA_OFFSET } from "./ata.ts";
import { SECTOR_SIZE } from "./constants.ts";

/**
 * The shortest Ethernet frame without its FCS: 64 - 4. Shorter frames must be
 * zero padded by the sender; virtual interfaces (veth, tap) do not do it.
 */
export const MIN_FRAME_LEN = 60;

/**
 * A zeroed frame buffer of at least MIN_FRAME_LEN bytes, so short messages go
 * out already padded. Backed by its own ArrayBuffer: frames are handed to the
 * kernel through bun:ffi, and ptr() of a small engine-managed typed array can
 * go stale (see shared/notes/bun-raw-ethernet.md).
 */
export function newFrame(len: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new ArrayBuffer(Math.max(MIN_FRAME_LEN, len)));
}

/**
 * Most sectors one ATA request or reply may carry on a link of this MTU.
 *
 * This is vblade's formula, (mtu - sizeof(Ata)) / 512, where its Ata struct
 * begins with the 14-byte Ethernet header: it subtracts 36 although the MTU
 * already excludes the Ethernet header and only 10 + 12 = 22 bytes of AoE header
 * and ATA argument count against it. The 14 spare bytes make it conservative;
 * it gives the well-known figures (2 sectors at 1500, 17 at 9000) and never
 * more than a peer using the same formula expects. Capped at 255, the most
 * the one-byte sector count can say.
 */
export function maxSectorsForMtu(mtu: number): number {
  if (!(mtu > ATA_DATA_OFFSET)) return 0;
  return Math.min(255, Math.floor((mtu - ATA_DATA_OFFSET) / SECTOR_SIZE));
}

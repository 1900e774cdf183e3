/**
 * A local interface the initiator sends on (Plan 9's Netlink): the raw link
 * plus what is counted per interface rather than per target.
 */
import type { RawLink } from "../../ffi/rawlink.ts";
import { SECTOR_SIZE } from "../aoe/constants.ts";
import { maxSectorsForMtu } from "../aoe/frame.ts";

export class NetLink {
  /** frames larger than 1024 data bytes that went unanswered since the last one that was answered */
  lostJumbo = 0;
  /** when the first of those was lost (ms) */
  lostJumboSince = 0;
  /** set when sending fails (interface down, gone) */
  sendErrors = 0;

  constructor(readonly link: RawLink) {}

  get name(): string {
    return this.link.name;
  }

  get mac(): Uint8Array {
    return this.link.mac;
  }

  /** Most whole sectors one ATA frame can carry at this interface's MTU. */
  maxSectors(): number {
    return maxSectorsForMtu(this.link.mtu);
  }

  /** Data bytes per frame the MTU allows (Plan 9's "nl datamtu"). */
  dataMtu(): number {
    return this.maxSectors() * SECTOR_SIZE;
  }
}

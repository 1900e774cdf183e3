/**
 * Tags of the requests this initiator sends.
 *
 * Bit 31 is always set: the Linux aoe driver only claims replies whose tag has
 * bit 31 clear (the upper half belongs to user-space tools), so AoEde and a
 * kernel initiator can share a host and an interface without stealing each
 * other's replies. The other 31 bits are a sequence number. It starts at a
 * random point so that two AoEde processes on one host (which see each other's
 * replies: the same MAC) are unlikely to ever issue the same tag; replies are
 * matched on tag, target and command anyway.
 */

export const TAG_USER_BIT = 0x8000_0000;
const SEQ_MASK = 0x7fff_ffff;

export class TagAllocator {
  private seq: number;

  constructor(start = Math.floor(Math.random() * SEQ_MASK)) {
    this.seq = start & SEQ_MASK;
  }

  /** A fresh tag, unsigned 32-bit, bit 31 set. */
  next(): number {
    this.seq = (this.seq + 1) & SEQ_MASK;
    return (TAG_USER_BIT | this.seq) >>> 0;
  }
}

/** True for tags in the user-space half: only those can be replies to us. */
export function isUserTag(tag: number): boolean {
  return (tag & TAG_USER_BIT) !== 0;
}

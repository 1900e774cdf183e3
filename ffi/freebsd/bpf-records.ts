/**
 * The records one read() of a /dev/bpf descriptor returns: each captured frame
 * behind a struct bpf_hdr, the next record starting at BPF_WORDALIGN(hdrlen + caplen).
 * Pure, unit-tested with bytes; the layout is FreeBSD amd64's and is not yet checked
 * against a FreeBSD kernel:
 *
 *   struct bpf_hdr { struct timeval bh_tstamp;  // 16 bytes (two longs)
 *                    uint32_t bh_caplen;        // @16
 *                    uint32_t bh_datalen;       // @20
 *                    u_short  bh_hdrlen; };     // @24, sizeof 32 with padding
 *
 * bh_hdrlen is what counts: the kernel makes it BPF_WORDALIGN(14 + 26) - 14 = 26 on
 * amd64 (SIZEOF_BPF_HDR is 26 there), so that the network header after the 14-byte
 * Ethernet header lands 8-aligned. Read from each record, never assumed.
 */

/** BPF_ALIGNMENT on LP64 FreeBSD: sizeof(long) */
export const BPF_ALIGNMENT = 8;
export const BPF_HDR_CAPLEN = 16;
export const BPF_HDR_DATALEN = 20;
export const BPF_HDR_HDRLEN = 24;
/** the fixed part of bpf_hdr a record must hold */
const BPF_HDR_MIN = 26;

export const bpfWordAlign = (x: number) => (x + (BPF_ALIGNMENT - 1)) & ~(BPF_ALIGNMENT - 1);

export interface BpfRecords {
  /** frames, as views into `buf` */
  frames: Uint8Array[];
  /** frames captured short of their wire length (buffer too small): dropped */
  truncated: number;
  /** a record ran past the end of the data: the rest was ignored */
  malformed: boolean;
}

/** Split the first `length` bytes of `buf` (one read()'s data) into frames. */
export function parseBpfRecords(buf: Uint8Array, length: number, out: Uint8Array[] = []): BpfRecords {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const end = Math.min(length, buf.length);
  let truncated = 0;
  let malformed = false;
  let p = 0;
  while (p < end) {
    if (p + BPF_HDR_MIN > end) {
      malformed = true;
      break;
    }
    const caplen = dv.getUint32(p + BPF_HDR_CAPLEN, true);
    const datalen = dv.getUint32(p + BPF_HDR_DATALEN, true);
    const hdrlen = dv.getUint16(p + BPF_HDR_HDRLEN, true);
    const start = p + hdrlen;
    if (hdrlen < BPF_HDR_MIN || start + caplen > end) {
      malformed = true;
      break;
    }
    if (caplen < datalen) truncated++;
    else out.push(buf.subarray(start, start + caplen));
    p += bpfWordAlign(hdrlen + caplen);
  }
  return { frames: out, truncated, malformed };
}

/** Build one record the way the kernel lays it out (tests). */
export function encodeBpfRecord(frame: Uint8Array, opts: { hdrlen?: number; datalen?: number } = {}): Uint8Array {
  const hdrlen = opts.hdrlen ?? 26; // what an amd64 kernel uses for Ethernet
  const total = bpfWordAlign(hdrlen + frame.length);
  const rec = new Uint8Array(total);
  const dv = new DataView(rec.buffer);
  dv.setUint32(BPF_HDR_CAPLEN, frame.length, true);
  dv.setUint32(BPF_HDR_DATALEN, opts.datalen ?? frame.length, true);
  dv.setUint16(BPF_HDR_HDRLEN, hdrlen, true);
  rec.set(frame, hdrlen);
  return rec;
}

/**
 * The pure parts of the FreeBSD /dev/bpf backend, checked with bytes on any system.
 * (The backend itself cannot run here; see ffi/freebsd/bpf.ts.)
 */
import { describe, expect, test } from "bun:test";
import { encodeBpfRecord, parseBpfRecords, bpfWordAlign } from "../../ffi/freebsd/bpf-records.ts";
import * as ioc from "../../ffi/freebsd/ioctl.ts";
import { IFT_ETHER, parseSockaddrDl, parseSockaddrLl } from "../../ffi/sockaddr.ts";

describe("ioctl numbers (FreeBSD amd64)", () => {
  // Published values, as FreeBSD's headers expand them on amd64.
  const expected: Record<string, number> = {
    BIOCGBLEN: 0x40044266,
    BIOCSBLEN: 0xc0044266,
    BIOCSETF: 0x80104267,
    BIOCFLUSH: 0x20004268,
    BIOCGDLT: 0x4004426a,
    BIOCSETIF: 0x8020426c,
    BIOCGSTATS: 0x4008426f,
    BIOCIMMEDIATE: 0x80044270,
    BIOCVERSION: 0x40044271,
    BIOCSHDRCMPLT: 0x80044275,
    BIOCSDIRECTION: 0x80044277,
    SIOCGIFFLAGS: 0xc0206911,
    SIOCGIFMTU: 0xc0206933,
  };
  for (const [name, value] of Object.entries(expected)) {
    test(`${name} = 0x${value.toString(16)}`, () => {
      expect((ioc as unknown as Record<string, number>)[name]).toBe(value);
    });
  }
});

describe("bpf_hdr records", () => {
  const frame = (len: number, fill: number) => new Uint8Array(len).fill(fill);

  test("BPF_WORDALIGN rounds up to 8 on LP64", () => {
    expect([0, 1, 7, 8, 9, 26 + 60].map(bpfWordAlign)).toEqual([0, 8, 8, 8, 16, 88]);
  });

  test("several records of odd sizes split back into the same frames (bh_hdrlen honoured)", () => {
    // amd64 kernels use bh_hdrlen 26 = BPF_WORDALIGN(14 + 26) - 14; 34 stands for any other padding.
    const frames = [frame(60, 1), frame(61, 2), frame(1514, 3), frame(63, 4)];
    const records = frames.map((f, i) => encodeBpfRecord(f, { hdrlen: i % 2 ? 34 : 26 }));
    const buf = new Uint8Array(records.reduce((n, r) => n + r.length, 0) + 100);
    let off = 0;
    for (const r of records) {
      buf.set(r, off);
      off += r.length;
    }
    const r = parseBpfRecords(buf, off);
    expect(r.malformed).toBe(false);
    expect(r.truncated).toBe(0);
    expect(r.frames).toEqual(frames);
    // views into the read buffer, not copies
    buf[26] = 0xaa;
    expect(r.frames[0]![0]).toBe(0xaa);
  });

  test("a frame captured short of its wire length is counted and skipped", () => {
    const a = encodeBpfRecord(frame(100, 9), { datalen: 9000 });
    const b = encodeBpfRecord(frame(70, 8));
    const buf = new Uint8Array(a.length + b.length);
    buf.set(a);
    buf.set(b, a.length);
    const r = parseBpfRecords(buf, buf.length);
    expect(r.truncated).toBe(1);
    expect(r.frames).toEqual([frame(70, 8)]);
  });

  test("a record running past the data is malformed; the frames before it are kept", () => {
    const a = encodeBpfRecord(frame(60, 5));
    const b = encodeBpfRecord(frame(200, 6));
    const buf = new Uint8Array(a.length + b.length);
    buf.set(a);
    buf.set(b, a.length);
    const r = parseBpfRecords(buf, a.length + 100);
    expect(r.malformed).toBe(true);
    expect(r.frames).toEqual([frame(60, 5)]);
    // a header length below the fixed header size is malformed too (no endless loop on 0)
    const zero = new Uint8Array(64);
    expect(parseBpfRecords(zero, 64)).toEqual({ frames: [], truncated: 0, malformed: true });
    expect(parseBpfRecords(zero, 0)).toEqual({ frames: [], truncated: 0, malformed: false });
  });
});

describe("link-level sockaddrs", () => {
  test("sockaddr_dl of em0 (AF_LINK, IFT_ETHER)", () => {
    const name = new TextEncoder().encode("em0");
    const mac = [0x00, 0x0c, 0x29, 0xab, 0xcd, 0xef];
    const b = new Uint8Array(20);
    b[0] = 20; // sdl_len
    b[1] = 18; // AF_LINK
    b[2] = 3; // sdl_index, little-endian u16
    b[4] = IFT_ETHER;
    b[5] = name.length;
    b[6] = 6;
    b.set(name, 8);
    b.set(mac, 8 + name.length);
    expect(parseSockaddrDl(b)).toEqual({ index: 3, type: IFT_ETHER, name: "em0", address: new Uint8Array(mac) });
  });

  test("sockaddr_dl cut short or of another family is refused", () => {
    const b = new Uint8Array(12);
    b[0] = 12;
    b[1] = 18;
    b[5] = 3;
    b[6] = 6; // claims 3 + 6 bytes of data, has 4
    expect(parseSockaddrDl(b)).toBeUndefined();
    b[1] = 2; // AF_INET
    expect(parseSockaddrDl(b)).toBeUndefined();
    expect(parseSockaddrDl(new Uint8Array(3))).toBeUndefined();
  });

  test("sockaddr_ll (Linux AF_PACKET)", () => {
    const b = new Uint8Array(20);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, 17, true);
    dv.setInt32(4, 7, true);
    dv.setUint16(8, 1, true);
    b[11] = 6;
    b.set([1, 2, 3, 4, 5, 6], 12);
    expect(parseSockaddrLl(b)).toEqual({ index: 7, type: 1, address: new Uint8Array([1, 2, 3, 4, 5, 6]) });
  });
});

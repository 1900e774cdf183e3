/**
 * The FreeBSD backend of RawLink: a /dev/bpf descriptor attached to one interface.
 *
 * UNVERIFIED: written from <net/bpf.h>, bpf(4) and vblade's freebsd.c, never run on
 * a FreeBSD kernel (the project's machines are Linux). The pure parts it relies on
 * (ioctl numbers, bpf_hdr records, sockaddr_dl, the filter) are unit-tested with
 * bytes; the open sequence and the read/write behaviour are not.
 *
 * Differences from AF_PACKET that shape this file:
 *  - read() must be given exactly the buffer size (BIOCGBLEN) and returns every
 *    frame the kernel buffered, each behind a bpf_hdr; there is no recvmmsg batch
 *    limit, so receive() may return more than `batch` frames.
 *  - write() sends one frame per call; there is no sendmmsg for bpf.
 *  - BIOCSBLEN must come before BIOCSETIF; like vblade we halve the size until
 *    BIOCSETIF stops failing with ENOBUFS (the kernel also caps it at
 *    net.bpf.maxbufsize, 512 KiB by default).
 *  - Frames are capped at the page size, as vblade does: bpf writes larger than a
 *    page have failed on some releases. The link reports the capped MTU, so the
 *    target advertises fewer sectors per frame there.
 */
import { CloseListeners } from "../close-listeners.ts";
import { encodeProgram, ethertypeFilter, programHeader } from "../bpf-filter.ts";
import { Errno } from "../errno.ts";
import { RawLinkError } from "../errors.ts";
import { MIN_FRAME, noteSendFailure, zeroPadded } from "../send-rules.ts";
import { interfaceLinks } from "../ifaddrs.ts";
import { cString, lastError, libc } from "../libc.ts";
import type { LinkStats, RawLink, RawLinkOptions } from "../rawlink.ts";
import { IFT_BRIDGE, IFT_ETHER, IFT_L2VLAN } from "../sockaddr.ts";
import { parseBpfRecords } from "./bpf-records.ts";
import {
  BIOCGBLEN,
  BIOCGDLT,
  BIOCGSTATS,
  BIOCIMMEDIATE,
  BIOCSBLEN,
  BIOCSDIRECTION,
  BIOCSETF,
  BIOCSETIF,
  BIOCSHDRCMPLT,
  BPF_D_IN,
  DLT_EN10MB,
  SIZEOF,
} from "./ioctl.ts";
import { ifreqFor, interfaceMtu } from "./ifreq.ts";

const ETHERTYPE_AOE = 0x88a2;
const ETH_HLEN = 14;
const IFF_UP = 0x1;

// FreeBSD <fcntl.h>, <sys/socket.h>
const O_RDWR = 0x2;
const O_NONBLOCK = 0x4;
const O_CLOEXEC = 0x00100000;
const F_SETFL = 4;

/** Ask for this much kernel buffer at least (the kernel caps it at net.bpf.maxbufsize). */
const MIN_BUFFER = 1 << 19;


function uintArg(v: number): Uint32Array {
  const a = new Uint32Array(new ArrayBuffer(4));
  a[0] = v;
  return a;
}

function bpfIoctl(fd: number, request: number, arg: Uint8Array | Uint32Array, what: string): void {
  if (libc.ioctl(fd, request, arg) !== 0) {
    const e = lastError();
    throw new RawLinkError(e.code, `${what}: ${e.text}`);
  }
}

function openBpfDevice(): number {
  // /dev/bpf clones a fresh unit on open (FreeBSD >= 5); no /dev/bpfN scan needed.
  const fd = libc.open(cString("/dev/bpf"), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    const e = lastError();
    if (e.code === "EACCES" || e.code === "EPERM") {
      throw new RawLinkError(e.code, "raw Ethernet needs root (read and write access to /dev/bpf)");
    }
    throw new RawLinkError(e.code, `cannot open /dev/bpf: ${e.text}`);
  }
  return fd;
}

/** BIOCSBLEN then BIOCSETIF, halving the size while the kernel answers ENOBUFS. Returns BIOCGBLEN. */
function attach(fd: number, name: string, want: number): number {
  for (let size = want; size >= 4096; size >>>= 1) {
    libc.ioctl(fd, BIOCSBLEN, uintArg(size)); // a size the kernel dislikes is capped, not refused
    if (libc.ioctl(fd, BIOCSETIF, ifreqFor(name)) === 0) {
      const got = uintArg(0);
      bpfIoctl(fd, BIOCGBLEN, got, "BIOCGBLEN");
      return got[0]!;
    }
    const e = lastError();
    if (e.errno === Errno.ENXIO || e.errno === Errno.ENODEV) throw new RawLinkError("ENODEV", `no such network interface: ${name}`);
    if (e.errno !== Errno.ENOBUFS) throw new RawLinkError(e.code, `cannot attach /dev/bpf to ${name}: ${e.text}`);
  }
  throw new RawLinkError("ENOBUFS", `no bpf buffer size worked for ${name}`);
}

export class BpfLink implements RawLink {
  readonly stats: LinkStats = { received: 0, truncated: 0, sent: 0, sendDropped: 0, receiveErrors: 0, lastError: undefined };
  #fd: number;
  #mtu: number;
  readonly #bufferBytes: number;
  readonly #readBuf: Uint8Array;
  readonly #frames: Uint8Array[] = [];
  readonly #pad = new Uint8Array(new ArrayBuffer(MIN_FRAME));
  readonly #closeListeners = new CloseListeners();
  readonly #pageSize: number;

  private constructor(
    readonly name: string,
    fd: number,
    readonly index: number,
    readonly mac: Uint8Array,
    mtu: number,
    bufferBytes: number,
    pageSize: number,
  ) {
    this.#fd = fd;
    this.#mtu = mtu;
    this.#bufferBytes = bufferBytes;
    this.#readBuf = new Uint8Array(new ArrayBuffer(bufferBytes));
    this.#pageSize = pageSize;
  }

  static open(name: string, opts: RawLinkOptions = {}): BpfLink {
    if (opts.netns !== undefined) {
      throw new RawLinkError("EOPNOTSUPP", "network namespaces are Linux only (on FreeBSD, run inside a vnet jail instead)");
    }
    ifreqFor(name); // validates the name
    const entry = interfaceLinks().find((l) => l.name === name);
    if (!entry) throw new RawLinkError("ENODEV", `no such network interface: ${name}`);
    const { link } = entry;
    if (![IFT_ETHER, IFT_L2VLAN, IFT_BRIDGE].includes(link.type) || link.address.length !== 6) {
      throw new RawLinkError("EINVAL", `${name} is not an Ethernet interface (type 0x${link.type.toString(16)})`);
    }
    if ((entry.flags & IFF_UP) === 0) {
      throw new RawLinkError("ENETDOWN", `interface ${name} is down; bring it up with "ifconfig ${name} up"`);
    }
    const pageSize = libc.getpagesize();
    const mtu = Math.min(interfaceMtu(name), pageSize - ETH_HLEN);
    const fd = openBpfDevice();
    try {
      const want = Math.max(MIN_BUFFER, (opts.bufferFrames ?? 16) * (mtu + ETH_HLEN + 32));
      const bufferBytes = attach(fd, name, want);
      const dlt = uintArg(0);
      bpfIoctl(fd, BIOCGDLT, dlt, "BIOCGDLT");
      if (dlt[0] !== DLT_EN10MB) throw new RawLinkError("EINVAL", `${name} is not an Ethernet interface (DLT ${dlt[0]})`);
      bpfIoctl(fd, BIOCIMMEDIATE, uintArg(1), "BIOCIMMEDIATE");
      bpfIoctl(fd, BIOCSHDRCMPLT, uintArg(1), "BIOCSHDRCMPLT"); // our frames carry their source MAC
      if (opts.ignoreOutgoing ?? true) bpfIoctl(fd, BIOCSDIRECTION, uintArg(BPF_D_IN), "BIOCSDIRECTION");
      const code = encodeProgram(ethertypeFilter(ETHERTYPE_AOE));
      bpfIoctl(fd, BIOCSETF, programHeader(code), "BIOCSETF");
      void code; // referenced until the kernel copied it
      if (libc.fcntl(fd, F_SETFL, O_NONBLOCK) !== 0) {
        throw new RawLinkError(lastError().code, `cannot make /dev/bpf non-blocking: ${lastError().text}`);
      }
      return new BpfLink(name, fd, link.index, link.address, mtu, bufferBytes, pageSize);
    } catch (e) {
      libc.close(fd);
      throw e;
    }
  }

  get fd(): number {
    return this.#fd;
  }
  get mtu(): number {
    return this.#mtu;
  }
  get open(): boolean {
    return this.#fd >= 0;
  }

  receive(): Uint8Array[] {
    const frames = this.#frames;
    frames.length = 0;
    if (this.#fd < 0) return frames;
    // bpf(4): the read size must equal the buffer size.
    const n = libc.read(this.#fd, this.#readBuf, this.#bufferBytes);
    if (n <= 0) {
      if (n < 0) {
        const e = lastError();
        if (e.errno !== Errno.EAGAIN && e.errno !== Errno.EINTR) {
          this.stats.receiveErrors++;
          this.stats.lastError = e.code;
        }
      }
      return frames;
    }
    const r = parseBpfRecords(this.#readBuf, n, frames);
    this.stats.truncated += r.truncated;
    if (r.malformed) {
      this.stats.receiveErrors++;
      this.stats.lastError = "EBADMSG";
    }
    this.stats.received += frames.length;
    return frames;
  }

  send(frame: Uint8Array): boolean {
    if (this.#fd < 0) throw new RawLinkError("EBADF", `link ${this.name} is closed`);
    const buf = frame.length < MIN_FRAME ? zeroPadded(frame, this.#pad) : frame;
    if (buf.length > this.#pageSize) {
      throw new RawLinkError("EMSGSIZE", `frame of ${buf.length} bytes exceeds the page-size cap on ${this.name}`);
    }
    if (libc.write(this.#fd, buf, buf.length) === buf.length) {
      this.stats.sent++;
      return true;
    }
    noteSendFailure(this.stats, this.name, lastError());
    return false;
  }

  sendBatch(frames: readonly Uint8Array[]): number {
    // bpf has no sendmmsg: one write() per frame. Same contract as the Linux link:
    // a bad frame is skipped, no room drops the rest.
    let sent = 0;
    for (let i = 0; i < frames.length; i++) {
      let ok: boolean;
      try {
        ok = this.send(frames[i]!);
      } catch (e) {
        if (!(e instanceof RawLinkError) || e.code === "EBADF") throw e;
        this.stats.sendDropped++;
        this.stats.lastError = e.code;
        continue;
      }
      if (!ok) {
        this.stats.sendDropped += frames.length - i - 1;
        break;
      }
      sent++;
    }
    return sent;
  }

  refresh(): void {
    if (this.#fd < 0) return;
    // The bpf buffer takes frames of any size up to its length: only the MTU changes.
    this.#mtu = Math.min(interfaceMtu(this.name), this.#pageSize - ETH_HLEN);
  }

  kernelDrops(): number {
    if (this.#fd < 0) return 0;
    const st = new Uint32Array(new ArrayBuffer(SIZEOF.bpf_stat));
    return libc.ioctl(this.#fd, BIOCGSTATS, st) === 0 ? st[1]! : 0; // bs_drop, cumulative
  }

  onClose(cb: () => void): () => void {
    return this.#closeListeners.add(cb);
  }

  close(): void {
    if (this.#fd < 0) return;
    this.#closeListeners.fire();
    libc.close(this.#fd);
    this.#fd = -1;
  }
}

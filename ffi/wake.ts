/**
 * A descriptor that one thread makes readable to interrupt another's poll():
 * an eventfd on Linux, a non-blocking pipe elsewhere (FreeBSD).
 */
import { lastError, libc, linuxLibc } from "./libc.ts";
import { RawLinkError } from "./errors.ts";

const EFD_NONBLOCK = 0x800;
const EFD_CLOEXEC = 0x80000;
const F_SETFL = 4;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const O_NONBLOCK_FREEBSD = 0x4;

export class WakeFd {
  /** the end to poll and drain */
  readonly readFd: number;
  readonly #writeFd: number;
  readonly #one = new Uint8Array(new ArrayBuffer(8));

  constructor() {
    this.#one[0] = 1; // eventfd adds a u64; a pipe just needs bytes
    if (linuxLibc) {
      const fd = linuxLibc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (fd < 0) throw new RawLinkError(lastError().code, `eventfd: ${lastError().text}`);
      this.readFd = this.#writeFd = fd;
    } else {
      const fds = new Int32Array(new ArrayBuffer(8));
      if (libc.pipe(fds) !== 0) throw new RawLinkError(lastError().code, `pipe: ${lastError().text}`);
      for (const fd of fds) {
        libc.fcntl(fd, F_SETFL, O_NONBLOCK_FREEBSD);
        libc.fcntl(fd, F_SETFD, FD_CLOEXEC);
      }
      this.readFd = fds[0]!;
      this.#writeFd = fds[1]!;
    }
  }

  /** Make readFd readable (a full eventfd/pipe is still readable: ignore EAGAIN). */
  signal(): void {
    libc.write(this.#writeFd, this.#one, 8);
  }

  close(): void {
    libc.close(this.readFd);
    if (this.#writeFd !== this.readFd) libc.close(this.#writeFd);
  }
}

/**
 * sd_notify(3): tell systemd "READY=1", "RELOADING=1", "STOPPING=1" by one
 * datagram to the AF_UNIX socket named in $NOTIFY_SOCKET (a path, or "@name" for
 * the abstract namespace).
 *
 * Why a datagram of our own: node:dgram has no unix datagram sockets, and
 * `systemd-notify` sends from its own process, which systemd ignores under the
 * default NotifyAccess=main unless it can attribute it (it needs --pid and a
 * race-free cgroup lookup; READY=1 from a short-lived child is the classic
 * lost-notification bug). A sendto() from the daemon's own pid is what systemd
 * expects, costs one syscall, and needs nothing installed.
 */
import { cString, lastError, libc } from "./libc.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC_LINUX = 0x80000;
const SOCK_CLOEXEC_FREEBSD = 0x10000000;
const MSG_NOSIGNAL_LINUX = 0x4000;
const SUN_PATH_MAX = 108;

/**
 * struct sockaddr_un for `path`: Linux { u16 family; char path[108] }, the
 * abstract namespace when `path` starts with "@" (a leading NUL, no terminator,
 * and the length counts only the name); FreeBSD { u8 len; u8 family; char path[104] }.
 */
export function sockaddrUn(path: string, platform: string = process.platform): { addr: Uint8Array; len: number } {
  const name = new TextEncoder().encode(path);
  const abstract = path.startsWith("@");
  if (name.length >= (platform === "freebsd" ? 104 : SUN_PATH_MAX)) throw new Error(`socket path too long: ${path}`);
  const addr = new Uint8Array(new ArrayBuffer(2 + SUN_PATH_MAX));
  if (platform === "freebsd") {
    addr[1] = AF_UNIX;
    addr.set(name, 2);
    const len = 2 + name.length + 1;
    addr[0] = len;
    return { addr, len };
  }
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, 2);
  if (abstract) addr[2] = 0;
  return { addr, len: 2 + name.length + (abstract ? 0 : 1) };
}

/**
 * Send `state` ("READY=1", ...) when $NOTIFY_SOCKET is set. Returns false when it
 * is not (not under systemd); throws with errno's text when the send fails.
 */
export function sdNotify(state: string, socketPath: string | undefined = process.env.NOTIFY_SOCKET): boolean {
  if (!socketPath) return false;
  const freebsd = process.platform === "freebsd";
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | (freebsd ? SOCK_CLOEXEC_FREEBSD : SOCK_CLOEXEC_LINUX), 0);
  if (fd < 0) throw new Error(`sd_notify: socket: ${lastError().text}`);
  try {
    const { addr, len } = sockaddrUn(socketPath);
    const msg = cString(state);
    const n = libc.sendto(fd, msg, msg.length - 1, freebsd ? 0 : MSG_NOSIGNAL_LINUX, addr, len);
    if (n < 0) throw new Error(`sd_notify to ${socketPath}: ${lastError().text}`);
    return true;
  } finally {
    libc.close(fd);
  }
}

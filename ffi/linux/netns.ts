/**
 * Run code with the calling thread inside a named network namespace
 * (/var/run/netns/NAME, as `ip netns add` makes them), then return it to the one it
 * was in. setns() moves only the calling thread; sockets keep the namespace they were
 * created in, and ioctls on them act there, so a link opened this way keeps working
 * after the thread has gone back. Linux only.
 */
import { cString, lastError, libc, linuxLibc } from "../libc.ts";
import { RawLinkError } from "../errors.ts";

const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0x80000;

export const NETNS_DIR = "/var/run/netns";

function openNs(path: string, what: string): number {
  const fd = libc.open(cString(path), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    const e = lastError();
    const msg =
      e.code === "ENOENT"
        ? `no network namespace ${what} (${path} does not exist; create it with "ip netns add ${what}")`
        : `cannot open network namespace ${what} (${path}): ${e.text}`;
    throw new RawLinkError(e.code, msg);
  }
  return fd;
}

/** fn() with this thread in namespace `name`; undefined name runs fn() where we are. */
export function withNetns<T>(name: string | undefined, fn: () => T): T {
  if (name === undefined) return fn();
  if (!linuxLibc) throw new RawLinkError("EOPNOTSUPP", "network namespaces exist on Linux only");
  if (name.includes("/") || name === "" || name === "." || name === "..") {
    throw new RawLinkError("EINVAL", `bad network namespace name ${JSON.stringify(name)}`);
  }
  // /proc/thread-self: the namespace of this thread, which is what setns() changed
  // and what we must return to (the main thread's equals /proc/self's).
  const home = openNs("/proc/thread-self/ns/net", "of this thread");
  let target = -1;
  try {
    target = openNs(`${NETNS_DIR}/${name}`, name);
    if (linuxLibc.setns(target, CLONE_NEWNET) !== 0) {
      const e = lastError();
      const msg =
        e.code === "EPERM"
          ? `entering network namespace ${name} needs root (CAP_SYS_ADMIN)`
          : `cannot enter network namespace ${name}: ${e.text}`;
      throw new RawLinkError(e.code, msg);
    }
    try {
      return fn();
    } finally {
      if (linuxLibc.setns(home, CLONE_NEWNET) !== 0) {
        // Staying in the wrong namespace would silently misdirect every later
        // socket this thread opens: better to stop here.
        const e = lastError();
        console.error(`fatal: cannot return to the original network namespace: ${e.text}`);
        process.abort();
      }
    }
  } finally {
    if (target >= 0) libc.close(target);
    libc.close(home);
  }
}

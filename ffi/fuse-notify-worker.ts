/**
 * The thread that writes FUSE notifications (INVAL_ENTRY) to /dev/fuse. A
 * notification is a synchronous kernel call that takes the parent directory's lock,
 * which an operation in that directory (a LOOKUP, say) holds while it waits for the
 * server: written from the serving thread, it could wait for a reply that thread will
 * never read (../shared/notes/fuse-direct.md, pitfall 11). Written from here, the
 * serving thread keeps answering and the write goes through once the lock is free.
 *
 * Messages in: { fd, msg: Uint8Array } (a whole notification). Out: { error?: string }.
 * Started by ffi/fusenotify.ts; a compiled binary embeds it (scripts/build.ts names every
 * *worker.ts).
 */
import { errnoName } from "./errno.ts";
import { errno, libc } from "./libc.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<{ fd: number; msg: Uint8Array }>) => {
  const { fd, msg } = event.data;
  const buf = new Uint8Array(new ArrayBuffer(msg.length));
  buf.set(msg);
  const n = libc.write(fd, buf, buf.length);
  self.postMessage(n === buf.length ? {} : { error: n < 0 ? errnoName(errno()) : "EIO" });
};

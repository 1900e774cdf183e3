/**
 * The poller's thread: blocks in poll() over every registered descriptor plus a wake
 * descriptor, and hands the ready ones to the main thread through shared memory
 * (Atomics.notify), then waits until the main thread has drained them. One hop per
 * batch of readiness, never per frame; blocked in the kernel, so 0 % CPU when idle.
 *
 * Started by ffi/poller.ts as `new Worker(new URL("./poller-worker.ts", import.meta.url))`;
 * a compiled binary must name this file on the `bun build --compile` command line.
 */
import { Errno } from "./errno.ts";
import { errno, libc } from "./libc.ts";
import {
  FDS,
  HANDOVERS,
  LIST_VERSION,
  NFDS,
  NREADY,
  POLL_ERRNO,
  POLLIN,
  READY,
  RESULT_VERSION,
  RESULTS,
  SHUTDOWN,
  STATE,
  WAKE_FD,
  MAX_FDS,
} from "./poller-shared.ts";

declare const self: Worker;

function run(shared: Int32Array): void {
  const pollfds = new ArrayBuffer(8 * (MAX_FDS + 1));
  const pollBytes = new Uint8Array(pollfds);
  const pfdFd = new Int32Array(pollfds); // fd at [2i]
  const pfd16 = new Int16Array(pollfds); // events at [4i+2], revents at [4i+3]
  const drain = new Uint8Array(new ArrayBuffer(64));
  const wakeFd = shared[WAKE_FD]!;

  for (;;) {
    // Wait while the main thread owns the results.
    Atomics.wait(shared, STATE, READY);
    if (Atomics.load(shared, SHUTDOWN)) break;

    // Version first: if the main thread rewrites the list while we read it, the
    // version we report is already stale and it will distrust our results.
    const version = Atomics.load(shared, LIST_VERSION);
    const n = Math.min(Atomics.load(shared, NFDS), MAX_FDS);
    pfdFd[0] = wakeFd;
    pfd16[2] = POLLIN;
    pfd16[3] = 0;
    for (let i = 0; i < n; i++) {
      pfdFd[2 * (i + 1)] = Atomics.load(shared, FDS + i);
      pfd16[4 * (i + 1) + 2] = POLLIN;
      pfd16[4 * (i + 1) + 3] = 0;
    }

    const r = libc.poll(pollBytes, n + 1, -1);
    if (r < 0) {
      const e = errno();
      if (e === Errno.EINTR) continue;
      // Unexpected (EFAULT, ENOMEM): report it and back off instead of spinning.
      Atomics.store(shared, POLL_ERRNO, e);
      Atomics.wait(shared, SHUTDOWN, 0, 100);
      continue;
    }
    if (Atomics.load(shared, SHUTDOWN)) break;
    if (pfd16[3] !== 0) {
      // The fd set changed (or shutdown): empty the wake descriptor, poll afresh.
      while (libc.read(wakeFd, drain, drain.length) > 0);
    }

    let ready = 0;
    for (let i = 1; i <= n; i++) {
      const revents = pfd16[4 * i + 3]!;
      if (revents === 0) continue;
      shared[RESULTS + 2 * ready] = pfdFd[2 * i]!;
      shared[RESULTS + 2 * ready + 1] = revents;
      ready++;
    }
    if (ready === 0) continue;
    Atomics.store(shared, NREADY, ready);
    Atomics.store(shared, RESULT_VERSION, version);
    Atomics.add(shared, HANDOVERS, 1);
    Atomics.store(shared, STATE, READY);
    Atomics.notify(shared, STATE);
  }
  postMessage("stopped");
}

self.onmessage = (event: MessageEvent<SharedArrayBuffer>) => {
  run(new Int32Array(event.data));
};

/**
 * The main thread's side of ffi/fuse-notify-worker.ts: FUSE notifications are
 * written to /dev/fuse from a thread of their own (why: that file).
 */

/**
 * Writes notifications from a Worker of their own (ffi/fuse-notify-worker.ts), one
 * at a time, in order. Started at the first notification; does not keep the process
 * alive. `onResult` sees each write's errno name (undefined: written; ENOENT: the
 * kernel had nothing to invalidate).
 */
export class FuseNotifier {
  #worker: Worker | undefined;
  #pending = 0;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(
    readonly fd: number,
    readonly onResult: (error: string | undefined) => void = () => {},
  ) {}

  send(msg: Uint8Array): void {
    if (this.#closed) return;
    if (!this.#worker) {
      // Named (the thread's name in /proc/PID/task/*/comm): the poller stays the one unnamed "Worker".
      const w = new Worker(new URL("./fuse-notify-worker.ts", import.meta.url), { name: "fuse-notify" });
      w.onmessage = (e: MessageEvent<{ error?: string }>) => {
        this.#pending--;
        if (this.#pending === 0) w.unref();
        this.onResult(e.data.error);
        if (this.#pending === 0) for (const f of this.#idle.splice(0)) f();
      };
      this.#worker = w;
    }
    this.#pending++;
    this.#worker.ref(); // keep the process until the notification is written
    this.#worker.postMessage({ fd: this.fd, msg });
  }

  /** notifications handed over and not yet written */
  get pending(): number {
    return this.#pending;
  }

  /** Resolves once every notification sent so far is written. */
  settled(): Promise<void> {
    return this.#pending === 0 ? Promise.resolve() : new Promise((r) => this.#idle.push(r));
  }

  close(): void {
    this.#closed = true;
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const f of this.#idle.splice(0)) f();
  }
}

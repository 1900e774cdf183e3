/**
 * Who must hear that a link is closing. Both backends call fire() before the
 * descriptor is closed: the poller must forget a descriptor before its number can
 * be reused by the next open.
 */
export class CloseListeners {
  readonly #listeners = new Set<() => void>();

  add(cb: () => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** Calls every listener once; a listener's failure must not keep the descriptor open. */
  fire(): void {
    for (const cb of [...this.#listeners]) {
      try {
        cb();
      } catch {
        // the descriptor is closed regardless
      }
    }
    this.#listeners.clear();
  }
}

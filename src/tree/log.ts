/**
 * The aoe(3) `log` file: 9front devaoe's event ring. 64 slots of at most 255
 * bytes; each read returns exactly one event and frees its slot (a short read
 * loses the rest of that event); a read of an empty ring returns nothing
 * (EOF) at once, so `cat log` drains the ring and exits; when the ring is full
 * the newest event overwrites the oldest. Every event also goes to `echo`
 * (stderr through consola in `aoede mount`).
 */

export const LOG_EVENTS = 64;
/** Plan 9's Eventlen is 256 with one length byte. */
export const LOG_EVENT_BYTES = 255;

export class EventLog {
  private readonly ring: (Uint8Array | undefined)[] = new Array(LOG_EVENTS).fill(undefined);
  private rp = 0;
  private wp = 0;
  /** events written since start (overwritten ones included) */
  written = 0;

  constructor(private readonly echo?: (line: string) => void) {}

  /** Adds one event; a missing final newline is added, as every devaoe event ends in one. */
  event(text: string): void {
    const line = text.endsWith("\n") ? text : text + "\n";
    this.echo?.(line.slice(0, -1));
    const bytes = new TextEncoder().encode(line).subarray(0, LOG_EVENT_BYTES);
    // A write on an occupied slot drags the read pointer along (the oldest is lost).
    const drag = this.ring[this.wp] !== undefined;
    this.ring[this.wp] = bytes;
    this.wp = (this.wp + 1) % LOG_EVENTS;
    if (drag) this.rp = this.wp;
    this.written++;
  }

  /** One event, at most `max` bytes of it; empty when there is none. Never waits. */
  read(max: number): Uint8Array {
    const e = this.ring[this.rp];
    if (e === undefined) return new Uint8Array(0);
    this.ring[this.rp] = undefined;
    this.rp = (this.rp + 1) % LOG_EVENTS;
    return e.subarray(0, Math.max(0, max));
  }

  /** Events waiting to be read. */
  get pending(): number {
    return this.ring.filter((e) => e !== undefined).length;
  }
}

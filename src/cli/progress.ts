/**
 * The progress of a long copy (`aoede read`, `aoede write`) on stderr: bytes
 * done, rate, time left and where the bytes go.
 *
 * On a terminal one line is redrawn in place; on a pipe nothing is shown unless
 * asked for (--progress), and then each refresh is a line of its own, so a log
 * stays readable. Either way at most four refreshes a second, and the last one
 * when the copy is complete. Everything but `ProgressMeter`'s writes is pure.
 */

/** How a meter shows itself: redrawn in place, one line per refresh, or not at all. */
export type ProgressMode = "tty" | "lines" | "off";

/** A terminal gets the redrawn line; a pipe gets lines only with --progress. */
export function progressMode(asked: boolean, stderrIsTTY: boolean): ProgressMode {
  if (stderrIsTTY) return "tty";
  return asked ? "lines" : "off";
}

/** The --progress option of read and write (a citty argument definition). */
export const progressArg = {
  progress: {
    type: "boolean",
    description: "show progress on stderr even when it is not a terminal: a line at most 4 times a second (on a terminal it is always shown)",
  },
} as const;

/** Refreshes no closer together than this (4 a second). */
export const REFRESH_MS = 250;

const MIB = 2 ** 20;

/** "0.0 MiB", "12.5 MiB", "1.50 GiB" */
export function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / MIB).toFixed(1)} MiB`;
}

/** Whole seconds as "0:07", "12:34" or "1:02:03". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * One progress line: "e9.0 -> backup.img: 12.5 MiB of 64.0 MiB (19%), 45.2 MB/s, ETA 0:01".
 * Without a total (a write from stdin) there is no percentage and no ETA; before
 * anything has moved there is no rate either.
 */
export function formatProgress(route: string, done: number, total: number | undefined, elapsedS: number): string {
  const rate = elapsedS > 0 ? done / elapsedS : 0;
  let line = `${route}: ${formatBytes(done)}`;
  if (total !== undefined && total > 0) {
    const pct = Math.floor((Math.min(done, total) / total) * 100);
    line += ` of ${formatBytes(total)} (${pct}%)`;
  }
  line += rate > 0 ? `, ${(rate / 1e6).toFixed(1)} MB/s` : ", -- MB/s";
  if (total !== undefined && total > 0) {
    if (done >= total) line += `, done in ${formatDuration(elapsedS)}`;
    else line += rate > 0 ? `, ETA ${formatDuration((total - done) / rate)}` : ", ETA --";
  }
  return line;
}

/** Shows a copy's progress on stderr (or `write`), at most every REFRESH_MS. */
export class ProgressMeter {
  private last = -Infinity;
  private shown = false;
  private lastLine = "";
  private readonly start: number;

  constructor(
    /** where the bytes go: "e9.0 -> backup.img" */
    private readonly route: string,
    private readonly mode: ProgressMode,
    private readonly write: (text: string) => void = (t) => void process.stderr.write(t),
    private readonly now: () => number = () => performance.now(),
  ) {
    this.start = this.now();
  }

  get enabled(): boolean {
    return this.mode !== "off";
  }

  update(done: number, total: number | undefined): void {
    if (this.mode === "off") return;
    const t = this.now();
    const complete = total !== undefined && done >= total;
    if (t - this.last < REFRESH_MS && !complete) return;
    this.last = t;
    const line = formatProgress(this.route, done, total, (t - this.start) / 1000);
    if (line === this.lastLine) return;
    this.lastLine = line;
    this.shown = true;
    // On a terminal: back to the start of the line, draw, clear what is left of the old one.
    this.write(this.mode === "tty" ? `\r${line}\x1b[K` : `${line}\n`);
  }

  /** Ends the redrawn line so that what follows starts on a fresh one. */
  end(): void {
    if (this.mode === "tty" && this.shown) this.write("\n");
    this.shown = false;
  }
}

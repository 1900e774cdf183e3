/**
 * The initiator's command line against one kind of target, over a veth pair
 * between two private namespaces: discover, stat, ident, config ccmds, the Mac
 * Mask list and reservations, and 64 MiB read/write round trips checked with
 * sha256, at MTU 1500 and 9000. vblade.test.ts and serve.test.ts run it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { makeImage, sha256, sha256File, type Image } from "../helpers/vblade.ts";
import { aoede, mbps, waitForTarget } from "../helpers/aoede-cli.ts";

const MIB = 1 << 20;

export interface RunningTarget {
  stop(): Promise<void>;
}

export interface TargetKind {
  label: string;
  /** two to four lowercase letters, for namespace names */
  tag: string;
  /** start shelf 7 slot 3 with buffer count 64 on `netif` in `ns`, exporting `file` */
  start(ns: string, netif: string, file: string): Promise<RunningTarget>;
  model: string;
  /** Mac Mask edits work (vblade 25 aborts on them) */
  maskEdits: boolean;
}

export function describeTargetSuite(kind: TargetKind): void {
  for (const mtu of [1500, 9000]) {
    describe(`MTU ${mtu}`, () => {
      let w: VethWorld;
      let img: Image;
      let target: RunningTarget;
      const name = "e7.3";
      const payload = mtu === 1500 ? 1024 : 8704;

      beforeAll(async () => {
        w = makeVethWorld(`${kind.tag}${mtu === 1500 ? "s" : "j"}`, mtu);
        img = makeImage(64 * MIB);
        target = await kind.start(w.nsA, w.ifA, img.path);
        await waitForTarget(w.nsB, name);
      }, 60_000);

      afterAll(async () => {
        await target?.stop();
        img?.dispose();
        w?.dispose();
      }, 30_000);

      test("discover finds it with one path, its buffer count and sector count", async () => {
        const r = await aoede(w.nsB, ["discover", "--json", "-i", w.ifB, "--timeout", "500"]);
        expect(r.code).toBe(0);
        const [t] = JSON.parse(r.out);
        expect(t.target).toBe(name);
        expect(t.bufferCount).toBe(64);
        expect(t.sectorsPerFrame).toBe(mtu === 1500 ? 2 : 17);
        expect(t.paths).toEqual([{ interface: w.ifB, localMac: w.macB, targetMac: w.macA }]);
        const table = await aoede(w.nsB, ["discover", "-i", w.ifB, "--timeout", "500"]);
        expect(table.out).toContain(`${w.ifB}=${w.macA}`);
      }, 30_000);

      test("stat: aoe-stat row, and the ctl text", async () => {
        const r = await aoede(w.nsB, ["stat", "--timeout", "500"]);
        expect(r.code).toBe(0);
        expect(r.out).toBe(`${name.padStart(10)} ${"0.067GB".padStart(15)} ${w.ifB.padStart(6)} ${String(payload).padStart(5)} up\n`);
        const c = await aoede(w.nsB, ["stat", "7.3"]);
        expect(c.code).toBe(0);
        expect(c.out).toMatch(/^state: up\nnopen: 0\nnout: 0\nnmaxout: 64\nnframes: 64\n/);
        expect(c.out).toContain(`maxbcnt: ${payload} [maxmtu 100000]\n`);
        expect(c.out).toContain(`model: ${kind.model}\n`);
        expect(c.out).toContain(`addr: ${w.macA.replaceAll(":", "")} \n`);
        expect(c.out).toContain(`nl path: ${w.ifB}\n`);
        const j = JSON.parse((await aoede(w.nsB, ["stat", name, "--json"])).out);
        expect(j.sizeBytes).toBe(64 * MIB);
        expect(j.devlinks[0].nl.ea).toBe(w.macB);
        expect(j.devlinks[0].datamtu).toBe(payload); // the target's sector count x 512
        expect(j.devlinks[0].nl.datamtu).toBe(mtu); // the interface MTU, as 9front's getmtu
      }, 30_000);

      test("ident: decoded and raw", async () => {
        const r = await aoede(w.nsB, ["ident", name]);
        expect(r.code).toBe(0);
        expect(r.out).toContain(`model: ${kind.model}\n`);
        expect(r.out).toContain(`sectors: ${(64 * MIB) / 512}\n`);
        expect(r.out).toContain("lba48: yes\n");
        const raw = await aoede(w.nsB, ["ident", name, "--raw"]);
        expect(raw.stdout.length).toBe(512);
      }, 30_000);

      if (mtu === 1500) {
        test("config: read, set, set again (error 4), test, prefix, force", async () => {
          const run = (...a: string[]) => aoede(w.nsB, ["config", name, ...a]);
          expect((await run()).out).toBe("\n");
          expect((await run("--set", "rack 4 slot 2")).out).toBe("rack 4 slot 2\n");
          const again = await run("--set", "other");
          expect(again.code).toBe(1);
          expect(again.err).toContain('config string is already "rack 4 slot 2"');
          expect((await run("--test", "rack 4 slot 2")).code).toBe(0);
          // --timeout bounds both finding the target and the silence that means "no"
          const miss = await run("--test", "rack 4", "--timeout", "1000");
          expect(miss.code).toBe(1);
          expect(miss.err).toContain("does not equal");
          expect((await run("--prefix", "rack 4")).code).toBe(0);
          expect((await run("--prefix", "rack 5", "--timeout", "1000")).code).toBe(1);
          expect((await run("--force", "moved")).out).toBe("moved\n");
          const d = JSON.parse((await aoede(w.nsB, ["discover", "--json", "--timeout", "1000"])).out);
          expect(d[0].config).toBe("moved");
        }, 30_000);

        test("mask: read" + (kind.maskEdits ? ", add, delete, in order" : " (edits abort vblade 25)"), async () => {
          const r = await aoede(w.nsB, ["mask", name]);
          expect(r.code).toBe(0);
          expect(r.out).toBe("");
          if (!kind.maskEdits) return;
          const other = "02:00:00:00:00:42";
          // Our own MAC first: a list without it would lock us out.
          const add = await aoede(w.nsB, ["mask", name, "--add", w.macB, "--add", other]);
          expect(add.err).toBe("");
          expect(add.out.split("\n").filter(Boolean).sort()).toEqual([w.macB, other].sort());
          expect((await aoede(w.nsB, ["read", name, "-n", "4096"])).stdout.length).toBe(4096);
          const j = JSON.parse((await aoede(w.nsB, ["mask", name, "--del", other, "--json"])).out);
          expect(j.macs).toEqual([w.macB]);
          expect((await aoede(w.nsB, ["mask", name, "--del", w.macB])).out).toBe("");
        }, 30_000);

        test("reserve: set for ourselves, read, taken by another, force-cleared", async () => {
          const set = await aoede(w.nsB, ["reserve", name, "--set", "self"]);
          expect(set.code).toBe(0);
          expect(set.out).toBe(`${w.macB}\n`);
          expect((await aoede(w.nsB, ["reserve", name])).out).toBe(`${w.macB}\n`);
          expect((await aoede(w.nsB, ["read", name, "-n", "4096"])).stdout.length).toBe(4096);
          const other = await aoede(w.nsB, ["reserve", name, "--force", "02:00:00:00:00:99"]);
          expect(other.out).toBe("02:00:00:00:00:99\n");
          const denied = await aoede(w.nsB, ["read", name, "-n", "4096", "--deadline", "2"]);
          expect(denied.code).toBe(1);
          expect(denied.err).toContain("target is reserved");
          const cannot = await aoede(w.nsB, ["reserve", name, "--set", "self"]);
          expect(cannot.code).toBe(1);
          expect(cannot.err).toContain("reserved by 02:00:00:00:00:99");
          expect((await aoede(w.nsB, ["reserve", name, "--force", ""])).code).toBe(0);
          expect((await aoede(w.nsB, ["reserve", name])).out).toBe("");
          // --release by the holder
          await aoede(w.nsB, ["reserve", name, "--set", "self"]);
          expect((await aoede(w.nsB, ["reserve", name, "--release"])).code).toBe(0);
          expect((await aoede(w.nsB, ["reserve", name])).out).toBe("");
        }, 30_000);
      }

      test("read 64 MiB to a file: sha256 matches the image", async () => {
        const out = join(img.dir, "read.out");
        const r = await aoede(w.nsB, ["read", name, out]);
        expect(r.err).toBe("");
        expect(r.code).toBe(0);
        expect(sha256File(out)).toBe(img.sha256);
        console.log(`${kind.label} MTU ${mtu}: read 64 MiB in ${r.ms.toFixed(0)} ms (${mbps(img.size, r.ms)} MB/s, process start included)`);
      }, 90_000);

      test("write 64 MiB from a file: the target's file matches", async () => {
        const src = makeImage(64 * MIB, "src.img");
        try {
          const r = await aoede(w.nsB, ["write", name, src.path]);
          expect(r.err).toBe("");
          expect(r.code).toBe(0);
          expect(sha256File(img.path)).toBe(src.sha256);
          console.log(`${kind.label} MTU ${mtu}: write 64 MiB in ${r.ms.toFixed(0)} ms (${mbps(src.size, r.ms)} MB/s, process start included)`);
        } finally {
          src.dispose();
        }
      }, 90_000);

      test("ranges: -o/-n read to stdout, unaligned; write at an offset from stdin with a partial last sector", async () => {
        const before = readFileSync(img.path);
        const r = await aoede(w.nsB, ["read", name, "-o", "1000", "-n", "70000", "-"]);
        expect(r.code).toBe(0);
        expect(sha256(r.stdout)).toBe(sha256(before.subarray(1000, 71000)));
        const patch = makeImage(5000, "patch.bin");
        try {
          const wr = await aoede(w.nsB, ["write", name, "-o", "8s"], { stdinFile: patch.path });
          expect(wr.err).toBe("");
          expect(wr.code).toBe(0);
          const after = readFileSync(img.path);
          expect(sha256(after.subarray(4096, 4096 + 5000))).toBe(patch.sha256);
          // the rest of the last sector and everything around it is untouched
          expect(sha256(after.subarray(9096, 12288))).toBe(sha256(before.subarray(9096, 12288)));
          expect(sha256(after.subarray(0, 4096))).toBe(sha256(before.subarray(0, 4096)));
        } finally {
          patch.dispose();
        }
      }, 30_000);
    });
  }
}

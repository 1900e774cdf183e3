/**
 * `aoede stat` on a mounted tree: the reading side works on any directory laid
 * out like the tree, here a copy of golden files (the texts of the stat golden
 * in test/cli/golden), no FUSE needed. The command finds the tree through its
 * runtime file and prints the same text and table as from a session.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTree, readTreeTarget, treeStatRow } from "../../src/tree/read.ts";
import { findMountedTrees, removeRuntime, writeRuntime } from "../../src/tree/runtime.ts";
import { formatTargetStat } from "../../src/initiator/ctl.ts";
import { formatStatTable } from "../../src/initiator/table.ts";
import { MAIN } from "../helpers/aoede-cli.ts";

setDefaultTimeout(30_000);

const STAT_GOLDEN = join(import.meta.dir, "../cli/golden/stat-target.txt");

describe("stat from a tree's files", () => {
  let work: string;
  let tree: string;
  let run: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "aoede-tree-read-"));
    tree = join(work, "aoe");
    run = join(work, "run");
    cpSync(join(import.meta.dir, "golden/tree"), tree, { recursive: true });
    writeFileSync(join(tree, "9.0/data"), "");
    truncateSync(join(tree, "9.0/data"), 67108864);
    writeFileSync(join(tree, "9.1/data"), "");
  });

  afterAll(() => {
    removeRuntime(run);
    rmSync(work, { recursive: true, force: true });
  });

  test("a unit's ctl and devlinks read back print as stat prints them", () => {
    const st = readTreeTarget(tree, 9, 0)!;
    expect(st).toMatchObject({ name: "e9.0", state: "up", sizeBytes: 67108864, config: "rack 3", maxbcnt: 8704, maxmtu: 100000, fw: 0x4019 });
    expect(st.features).toEqual(["lba", "llba", "ata8"]);
    expect(st.flags).toEqual(["up", "jumbo"]);
    expect(st.devlinks.map((d) => d.nlPath)).toEqual(["eth0", "eth1"]);
    expect(formatTargetStat(st)).toBe(readFileSync(STAT_GOLDEN, "utf8"));
    expect(readTreeTarget(tree, 9, 7)).toBeUndefined();
  });

  test("every unit as aoe-stat rows; a down unit has no size", () => {
    expect(formatStatTable(readTree(tree).map(treeStatRow))).toBe(
      "      e9.0         0.067GB eth0,eth1  8704 up\n      e9.1            (NA)   eth1  1024 down\n",
    );
  });

  test("runtime files: live ones found, stale ones (dead pid, no ctl) skipped", () => {
    expect(findMountedTrees(run)).toEqual([]);
    writeRuntime(tree, run);
    writeFileSync(join(run, "tree.999999999.json"), JSON.stringify({ mountpoint: tree, pid: 999999999, started: 0 }));
    writeFileSync(join(run, "tree.1.json"), JSON.stringify({ mountpoint: join(work, "nothing"), pid: 1, started: 0 }));
    expect(findMountedTrees(run)).toEqual([tree]);
    // The next mount drops the dead process's file.
    writeRuntime(tree, run);
    expect(existsSync(join(run, "tree.999999999.json"))).toBe(false);
  });

  test("aoede stat and stat TARGET read the mounted tree (no session, no interface)", async () => {
    writeRuntime(tree, run);
    const stat = async (args: string[]) => {
      const p = Bun.spawn([process.execPath, MAIN, "stat", ...args], {
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, AOEDE_RUNTIME_DIR: run, NO_COLOR: "1" },
      });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { out, err, code };
    };
    // The runtime file names this test's process, which is alive: the tree counts as mounted.
    const one = await stat(["e9.0"]);
    expect(one).toEqual({ out: readFileSync(STAT_GOLDEN, "utf8"), err: "", code: 0 });
    const table = await stat([]);
    expect(table.out).toBe("      e9.0         0.067GB eth0,eth1  8704 up\n      e9.1            (NA)   eth1  1024 down\n");
    const json = await stat(["9.0", "--json"]);
    expect(JSON.parse(json.out)).toMatchObject({ target: "e9.0", state: "up", maxbcnt: 8704, feature: ["lba", "llba", "ata8"], flag: ["up", "jumbo"] });
    const missing = await stat(["e9.7"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("target e9.7 is not in the tree mounted at");
  });
});

/**
 * `aoede daemon` with an [initiator] table: the daemon serves its exports and
 * mounts the aoe(3) tree in one process, on one poller thread. World: namespace
 * A holds the daemon, an export on one end of a veth pair whose other end (also
 * in A) the tree binds, and a second export on the pair to namespace B. While
 * `aoede read` copies the second export from B, dd copies the first through the
 * tree's `data` (both sha256-checked); a reload changes the tree in place
 * (interfaces unbound and bound, a new mount point, the table removed and added
 * back), and SIGTERM unmounts it. The mount lives in the daemon's
 * mount namespace (`ip netns exec` makes a private one): the test reaches it
 * through nsenter.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "bun";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { makeImage, sha256File, type Image } from "../helpers/vblade.ts";
import { aoede, waitForTarget } from "../helpers/aoede-cli.ts";
import { configText, spawnDaemon, type DaemonProc } from "./daemon-proc.ts";

setDefaultTimeout(60_000);

const MIB = 1 << 20;
const MEMORY_DIR = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const haveFuse = existsSync("/dev/fuse") && Bun.which("nsenter") !== null;

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(50);
  }
}

describe.skipIf(!(canUseNetns() && haveFuse))("aoede daemon with [initiator]: the tree and the exports in one process", () => {
  let w: VethWorld;
  let dir: string;
  let imgs: Record<string, Image>;
  let d: DaemonProc;
  let file: string;
  let run: string;
  let mnt: string;
  // a veth pair with both ends in namespace A: the export on one, the tree on the other
  let ifX: string;
  let ifY: string;

  /** A shell command in the daemon's mount namespace (where its tree is mounted). */
  const inDaemon = (cmd: string) => {
    const r = spawnSync(["nsenter", "-t", String(d.proc.pid), "-m", "--", "sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
  };
  const reloads = () => d.output().split("has been reloaded").length;
  const config = (mountpoint: string) =>
    configText({
      stateDir: path.join(dir, "state"),
      socket: path.join(dir, "ctl.sock"),
      exports: [
        { name: "local", path: imgs.local!.path, shelf: 7, slot: 0, interfaces: [ifX] },
        { name: "remote", path: imgs.remote!.path, shelf: 7, slot: 1, interfaces: [w.ifA] },
      ],
    }) + `[initiator]\ninterfaces = [${JSON.stringify(ifY)}]\nmountpoint = ${JSON.stringify(mountpoint)}\n`;

  beforeAll(async () => {
    w = makeVethWorld("dtr");
    ifX = `adtr${process.pid % 100000}x`;
    ifY = `adtr${process.pid % 100000}y`;
    w.exec(w.nsA, ["ip", "link", "add", ifX, "type", "veth", "peer", "name", ifY]);
    w.exec(w.nsA, ["ip", "link", "set", ifX, "up"]);
    w.exec(w.nsA, ["ip", "link", "set", ifY, "up"]);
    dir = mkdtempSync(path.join(MEMORY_DIR, "aoede-dtr-"));
    imgs = { local: makeImage(24 * MIB, "local.img", dir), remote: makeImage(32 * MIB, "remote.img", dir) };
    run = path.join(dir, "run");
    mnt = path.join(dir, "aoe");
    file = path.join(dir, "aoede.toml");
    writeFileSync(file, config(mnt));
    d = spawnDaemon(w.nsA, ["-c", file], { AOEDE_RUNTIME_DIR: run });
    await d.waitOutput(/2 exports from .*aoe\(3\) tree on /, 20_000);
    await until(() => inDaemon(`cat ${mnt}/7.0/ctl`).out.startsWith("state: up\n"), 15_000, `7.0 up in the daemon's tree:\n${d.output()}`);
    await waitForTarget(w.nsB, "e7.1");
  });

  afterAll(async () => {
    if (d) expect(await d.stop()).toBe(0);
    for (const i of Object.values(imgs ?? {})) i.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
    w?.dispose();
  });

  test("the tree lists the local export, bound to its interface only", () => {
    expect(inDaemon(`ls ${mnt}`).out.split("\n").filter(Boolean)).toEqual(["7.0", "ctl", "log"]);
    expect(inDaemon(`grep path ${mnt}/ctl`).out).toBe(`if0 path: ${ifY}\n`);
    expect(inDaemon(`stat -c %s ${mnt}/7.0/data`).out).toBe(`${24 * MIB}\n`);
    expect(existsSync(path.join(run, `tree.${d.proc.pid}.json`))).toBe(true);
    // ip netns exec gave it a mount namespace of its own: the daemon says the mount is seen only
    // there (where /proc/1/ns/mnt can be read: not in every sandbox)
    let initNs: string | undefined;
    try {
      initNs = readlinkSync("/proc/1/ns/mnt");
    } catch {
      console.log("SKIP the private mount namespace warning: /proc/1/ns/mnt cannot be read here");
    }
    if (initNs) expect(d.output()).toContain("mount namespace of its own");
  });

  test("a copy through the tree's data while the same process serves a copy to namespace B; one poller thread", async () => {
    const out = path.join(dir, "remote.out");
    const dd = Bun.spawn(["nsenter", "-t", String(d.proc.pid), "-m", "--", "sh", "-c", `dd if=${mnt}/7.0/data bs=1M status=none | sha256sum`], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [read, ddOut, ddCode] = await Promise.all([aoede(w.nsB, ["read", "e7.1", out]), new Response(dd.stdout).text(), dd.exited]);
    expect(ddCode).toBe(0);
    expect(ddOut.split(" ")[0]).toBe(imgs.local!.sha256);
    expect(read.code).toBe(0);
    expect(sha256File(out)).toBe(imgs.remote!.sha256);
    rmSync(out);

    const tasks = readdirSync(`/proc/${d.proc.pid}/task`).map((t) => readFileSync(`/proc/${d.proc.pid}/task/${t}/comm`, "utf8").trim());
    console.log(`daemon threads: ${tasks.join(", ")}`);
    // The poller is the one unnamed Worker; the FUSE notifier's thread is named fuse-notify.
    expect(tasks.filter((n) => n === "Worker")).toHaveLength(1);
  });

  test("a write through data lands in the export's file", () => {
    const piece = path.join(dir, "piece");
    writeFileSync(piece, crypto.getRandomValues(new Uint8Array(5000)));
    expect(inDaemon(`dd if=${piece} of=${mnt}/7.0/data bs=1 seek=777 conv=notrunc,fsync status=none`).code).toBe(0);
    expect(readFileSync(imgs.local!.path).subarray(777, 5777)).toEqual(readFileSync(piece));
  });

  test("reload with a new mount point: the tree moves there, its unit kept", async () => {
    const mnt2 = path.join(dir, "aoe2");
    writeFileSync(file, config(mnt2));
    d.signal("SIGHUP");
    await d.waitOutput(/tree: moved from /, 10_000);
    expect(inDaemon(`cat ${mnt2}/7.0/ctl`).out).toStartWith("state: up\n");
    expect(inDaemon(`grep -c " ${mnt} " /proc/self/mounts`).out.trim()).toBe("0");
    expect(JSON.parse(readFileSync(path.join(run, `tree.${d.proc.pid}.json`), "utf8")).mountpoint).toBe(mnt2);
    mnt = mnt2;
  });

  test("reload with other interfaces: unbound in place (the unit, left with no path, goes), then bound again", async () => {
    writeFileSync(file, config(mnt).replace(`interfaces = [${JSON.stringify(ifY)}]`, `interfaces = ["nosuch0"]`));
    let before = reloads();
    d.signal("SIGHUP");
    await until(() => reloads() > before, 10_000, "the reload");
    expect(d.output()).toContain(`tree: unbound ${ifY}`);
    expect(inDaemon(`ls ${mnt}`).out.split("\n").filter(Boolean)).toEqual(["ctl", "log"]);
    expect(inDaemon(`grep -c path ${mnt}/ctl`).out.trim()).toBe("0");
    writeFileSync(file, config(mnt));
    before = reloads();
    d.signal("SIGHUP");
    await until(() => reloads() > before, 10_000, "the reload");
    await until(() => inDaemon(`cat ${mnt}/7.0/ctl`).out.startsWith("state: up\n"), 15_000, "7.0 back after the bind");
    expect(inDaemon(`grep path ${mnt}/ctl`).out).toBe(`if0 path: ${ifY}\n`);
  });

  test("reload without [initiator]: unmounted; the exports serve on", async () => {
    writeFileSync(file, config(mnt).replace(/\[initiator\][^]*$/, ""));
    const before = reloads();
    d.signal("SIGHUP");
    await until(() => reloads() > before, 10_000, "the reload");
    await until(() => inDaemon(`grep -c " ${mnt} " /proc/self/mounts`).out.trim() === "0", 5000, "the tree unmounted");
    expect(existsSync(path.join(run, `tree.${d.proc.pid}.json`))).toBe(false);
    await waitForTarget(w.nsB, "e7.1", 5000);
    // and back, for SIGTERM to unmount
    writeFileSync(file, config(mnt));
    d.signal("SIGHUP");
    await until(() => inDaemon(`cat ${mnt}/7.0/ctl`).out.startsWith("state: up\n"), 15_000, "the tree mounted again");
  });

  test("SIGTERM: the tree is unmounted, exit 0", async () => {
    const pid = d.proc.pid;
    expect(await d.stop()).toBe(0);
    expect(existsSync(path.join(run, `tree.${pid}.json`))).toBe(false);
    expect(d.output()).not.toContain("tree: unmount");
  });
});

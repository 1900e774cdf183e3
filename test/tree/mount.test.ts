/**
 * `aoede mount` end to end: the tree served over FUSE by a child process
 * whose interfaces live in a test namespace (--netns), an `aoede serve`
 * process at the other end of the veth pair (not in this process: the
 * synchronous shell commands below would stall its loop). Real programs on
 * the real mount: cat, echo > ctl, dd through data (sha256 against the image),
 * `aoede stat` reading the mounted tree, losetup + mkfs.ext4 + mount + e2fsck,
 * rm -r of a target, SIGTERM: unmounted, exit 0, and a mount left by SIGKILL
 * cleared by the next aoede mount. Skipped where the FUSE server is not part of
 * the build (src/fuse/mount.ts) or /dev/fuse is missing.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync, type Subprocess } from "bun";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { makeImage, sha256, type Image } from "../helpers/vblade.ts";
import { MAIN } from "../helpers/aoede-cli.ts";
import { spawnServe, type ServeProc } from "../helpers/serve-proc.ts";

setDefaultTimeout(60_000);

const MIB = 1 << 20;
const haveFuse = existsSync(join(import.meta.dir, "../../src/fuse/mount.ts")) && existsSync("/dev/fuse");
const MEMORY_DIR = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();

function sh(cmd: string): { code: number; out: string; err: string } {
  const r = spawnSync(["sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

const mounted = (mnt: string) => readFileSync("/proc/mounts", "utf8").split("\n").some((l) => l.split(" ")[1] === mnt);

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

describe.skipIf(!(haveFuse && canUseNetns()))("aoede mount", () => {
  let w: VethWorld;
  let img: Image;
  let serve: ServeProc;
  let work: string;
  let mnt: string;
  let run: string;
  let proc: Subprocess<"ignore", "pipe", "pipe">;
  let output = "";
  // CONSOLA_LEVEL: under bun test consola would hide info lines (its test-environment default).
  const env = () => ({ ...process.env, AOEDE_RUNTIME_DIR: run, NO_COLOR: "1", CONSOLA_LEVEL: "3" });

  beforeAll(async () => {
    w = makeVethWorld("trm");
    img = makeImage(64 * MIB, "disk.img", MEMORY_DIR);
    serve = spawnServe(w.prefix(w.nsA), ["-b", "32", "4", "2", w.ifA, img.path]);
    await serve.waitOutput(/e4\.2/, 10_000);
    work = mkdtempSync(join(tmpdir(), "aoede-mount-"));
    mnt = join(work, "aoe");
    run = join(work, "run");
    sh(`mkdir -p ${mnt}`);
    proc = Bun.spawn([process.execPath, MAIN, "mount", "--netns", w.nsB, "-i", w.ifB, "--deadline", "5", mnt], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: env(),
    });
    for (const s of [proc.stdout, proc.stderr]) {
      (async () => {
        for await (const c of s) output += new TextDecoder().decode(c);
      })().catch(() => {});
    }
    await until(() => mounted(mnt) || proc.exitCode !== null, 10_000, `the mount at ${mnt}`);
    if (proc.exitCode !== null) throw new Error(`aoede mount exited ${proc.exitCode}: ${output}`);
    await until(() => sh(`cat ${mnt}/4.2/ctl`).out.startsWith("state: up\n"), 10_000, "4.2 up in the tree");
  });

  afterAll(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(5000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    }
    sh(`losetup -j ${mnt}/4.2/data -O NAME -n | xargs -r -n1 losetup -d`);
    if (mnt && mounted(mnt)) sh(`umount -l ${mnt}`);
    await serve?.stop();
    img?.dispose();
    w?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("cat and ls: the files and their texts", () => {
    expect(sh(`ls ${mnt}`).out.split("\n").filter(Boolean)).toEqual(["4.2", "ctl", "log"]);
    expect(sh(`ls ${mnt}/4.2`).out.split("\n").filter(Boolean).sort()).toEqual(["config", "ctl", "data", "devlink", "ident"]);
    expect(sh(`cat ${mnt}/ctl`).out).toBe(
      `debug: 0\nautodiscover: 1\nrediscover: 0\nif0 path: ${w.ifB}\nif0 ea: ${w.macB.replaceAll(":", "")}\nif0 flag: up \nif0 lostjumbo: 0\nif0 datamtu: 1500\n`,
    );
    expect(sh(`stat -c '%a %s' ${mnt}/4.2/data ${mnt}/4.2/ident ${mnt}/ctl`).out).toBe(`660 ${64 * MIB}\n664 512\n664 0\n`);
  });

  test("echo > ctl: a bad verb is 'Invalid argument' and the log names it", async () => {
    sh(`cat ${mnt}/log > /dev/null`);
    // coreutils' echo says why a write failed (dash's builtin says "I/O error" whatever the errno).
    const r = sh(`/bin/echo frob > ${mnt}/ctl`);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("Invalid argument");
    expect(sh(`cat ${mnt}/log`).out).toBe('ctl: unknown control message "frob"\n');
    expect(sh(`echo rediscover on > ${mnt}/ctl && head -3 ${mnt}/ctl`).out).toBe("debug: 0\nautodiscover: 1\nrediscover: 1\n");
    // The same event on the mount's stderr (read by this process's loop, which the sync commands held up).
    await until(() => output.includes('ctl: unknown control message "frob"'), 2000, "the event on stderr");
  });

  test("dd through data: the image by sha256, and a write at an odd offset", () => {
    expect(sh(`dd if=${mnt}/4.2/data bs=1M status=none | sha256sum`).out.split(" ")[0]).toBe(sha256(readFileSync(img.path)));
    const piece = join(work, "piece");
    writeFileSync(piece, crypto.getRandomValues(new Uint8Array(3000)));
    expect(sh(`dd if=${piece} of=${mnt}/4.2/data bs=1 seek=12345 conv=notrunc,fsync status=none`).code).toBe(0);
    expect(sha256(readFileSync(img.path).subarray(12345, 15345))).toBe(sha256(readFileSync(piece)));
  });

  test("aoede stat reads the mounted tree", () => {
    const table = spawnSync([process.execPath, MAIN, "stat"], { env: env(), stdout: "pipe", stderr: "pipe" });
    expect(table.stdout.toString()).toBe(`      e4.2         0.067GB ${w.ifB.padStart(6)}  1024 up\n`);
    const one = spawnSync([process.execPath, MAIN, "stat", "e4.2"], { env: env(), stdout: "pipe", stderr: "pipe" });
    expect(one.stdout.toString()).toStartWith("state: up\nnopen: 0\n");
    expect(one.stdout.toString()).toContain(`\nnl path: ${w.ifB}\n`);
  });

  test("losetup, mkfs.ext4, mount, write, umount, e2fsck -fn clean", () => {
    if (!Bun.which("mkfs.ext4") || !Bun.which("losetup")) {
      console.log("SKIP ext4 on the tree: mkfs.ext4 or losetup missing");
      return;
    }
    const fs = join(work, "fs");
    const loop = sh(`losetup --direct-io=on -f --show ${mnt}/4.2/data`);
    expect(loop.code).toBe(0);
    const dev = loop.out.trim();
    try {
      expect(sh(`mkfs.ext4 -q -F ${dev}`).code).toBe(0);
      sh(`mkdir -p ${fs}`);
      expect(sh(`mount ${dev} ${fs}`).code).toBe(0);
      expect(sh(`head -c 5000000 /dev/urandom > ${fs}/f && sha256sum ${fs}/f > ${work}/sum && sync`).code).toBe(0);
      expect(sh(`umount ${fs}`).code).toBe(0);
      const fsck = sh(`e2fsck -fn ${dev}`);
      expect({ code: fsck.code, out: fsck.out }).toEqual({ code: 0, out: expect.stringContaining("files") });
      expect(sh(`mount ${dev} ${fs} && sha256sum -c ${work}/sum && umount ${fs}`).code).toBe(0);
    } finally {
      sh(`umount ${fs} 2>/dev/null; losetup -d ${dev}`);
    }
  });

  test("the target restarted while ext4 is mounted on it: writes go on, e2fsck -fn clean", async () => {
    if (!Bun.which("mkfs.ext4") || !Bun.which("losetup")) return;
    const fs = join(work, "fs");
    const dev = sh(`losetup --direct-io=on -f --show ${mnt}/4.2/data`).out.trim();
    try {
      expect(sh(`mount ${dev} ${fs}`).code).toBe(0);
      expect(sh(`head -c 3000000 /dev/urandom > ${fs}/g && sync`).code).toBe(0);
      await serve.stop();
      serve = spawnServe(w.prefix(w.nsA), ["-b", "32", "4", "2", w.ifA, img.path]);
      await serve.waitOutput(/e4\.2/, 10_000);
      // Written while the target restarts: the frames are resent until it answers (within --deadline 5).
      expect(sh(`cp ${fs}/g ${fs}/h && sync && cmp ${fs}/g ${fs}/h`).code).toBe(0);
      expect(sh(`umount ${fs}`).code).toBe(0);
      const fsck = sh(`e2fsck -fn ${dev}`);
      expect({ code: fsck.code, out: fsck.out }).toEqual({ code: 0, out: expect.stringContaining("files") });
      expect(sh(`cat ${mnt}/4.2/ctl`).out).toStartWith("state: up\n");
    } finally {
      sh(`umount ${fs} 2>/dev/null; losetup -d ${dev}`);
    }
  });

  test("rm -r S.L removes the target; a lone rm of a file in it is a no-op; discover brings it back", async () => {
    expect(sh(`rm ${mnt}/4.2/ctl && cat ${mnt}/4.2/ctl`).out).toStartWith("state: up\n");
    expect(sh(`rm ${mnt}/log`).err).toContain("Operation not permitted");
    sh(`cat ${mnt}/log > /dev/null`);
    const rm = sh(`rm -r ${mnt}/4.2`);
    expect({ code: rm.code, err: rm.err }).toEqual({ code: 0, err: "" });
    expect(sh(`ls ${mnt}`).out.split("\n").filter(Boolean)).toEqual(["ctl", "log"]);
    expect(sh(`cat ${mnt}/4.2/ctl`).err).toContain("No such file or directory");
    // rm's unlinks were no-ops, not failures: nothing in the log
    expect(sh(`cat ${mnt}/log`).out).toBe("");
    expect(sh(`echo discover 4.2 > ${mnt}/ctl`).code).toBe(0);
    await until(() => sh(`cat ${mnt}/4.2/ctl`).out.startsWith("state: up\n"), 10_000, "4.2 back after discover");
    expect(sh(`ls ${mnt}/4.2/devlink`).out).toBe("0\n");
  });

  test("SIGTERM: unmounted, runtime file gone, exit 0", async () => {
    expect(existsSync(join(run, `tree.${proc.pid}.json`))).toBe(true);
    proc.kill("SIGTERM");
    const code = await Promise.race([proc.exited, Bun.sleep(15_000).then(() => -1)]);
    expect(code).toBe(0);
    expect(mounted(mnt)).toBe(false);
    expect(existsSync(join(run, `tree.${proc.pid}.json`))).toBe(false);
  });

  test("a mount left by a SIGKILLed aoede mount answers ENOTCONN; the next aoede mount clears it and serves", async () => {
    const start = () =>
      Bun.spawn([process.execPath, MAIN, "mount", "--netns", w.nsB, "-i", w.ifB, "--deadline", "5", mnt], { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: env() });
    const killed = start();
    let again: ReturnType<typeof start> | undefined;
    try {
      await until(() => sh(`cat ${mnt}/4.2/ctl`).out.startsWith("state: up\n") || killed.exitCode !== null, 10_000, "the first mount serving");
      expect(killed.exitCode).toBeNull();
      killed.kill("SIGKILL");
      await killed.exited;
      expect(mounted(mnt)).toBe(true);
      expect(sh(`ls ${mnt}`).err).toContain("Transport endpoint is not connected");
      again = start();
      await until(() => sh(`cat ${mnt}/4.2/ctl`).out.startsWith("state: up\n") || again!.exitCode !== null, 10_000, "the second mount serving");
      expect(again.exitCode).toBeNull();
      expect(sh(`ls ${mnt}`).out.split("\n").filter(Boolean)).toEqual(["4.2", "ctl", "log"]);
      // one mount at the point, the live one: the dead one was detached
      expect(readFileSync("/proc/mounts", "utf8").split("\n").filter((l) => l.split(" ")[1] === mnt)).toHaveLength(1);
      again.kill("SIGTERM");
      expect(await Promise.race([again.exited, Bun.sleep(15_000).then(() => -1)])).toBe(0);
      expect(mounted(mnt)).toBe(false);
    } finally {
      for (const p of [killed, again]) if (p && p.exitCode === null) p.kill("SIGKILL");
      for (let i = 0; i < 4 && mounted(mnt); i++) sh(`umount -l ${mnt}`);
    }
  });
});

/**
 * `aoede serve`'s command line: vblade's getopt conventions, AoEde's long options,
 * and the failures — one line on stderr, exit 2 for usage, 1 for runtime errors,
 * nothing written.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseMac } from "../../src/aoe/index.ts";
import { macKey } from "../../src/target/access.ts";
import { parseServeArgs, UsageError } from "../../src/target/config.ts";
import { MAIN } from "../helpers/serve-proc.ts";

// Child processes: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "aoede-serve-cli-"));
fs.chmodSync(tmp, 0o755);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("parseServeArgs", () => {
  test("vblade's command line, unchanged", () => {
    expect(parseServeArgs(["-b", "64", "-r", "9", "0", "eth0", "disk.img"])).toMatchObject({
      shelf: 9,
      slot: 0,
      netif: "eth0",
      file: "disk.img",
      bufcnt: 64,
      readOnly: true,
      direct: false,
      sync: false,
      offset: 0,
      length: undefined,
      macs: undefined,
      tagTracking: "off",
    });
    expect(parseServeArgs(["1", "2", "eth0", "f"]).bufcnt).toBe(16);
  });
  test("getopt forms: clusters, attached values, options after operands, --", () => {
    const c = parseServeArgs(["-rds", "-b128", "-o", "8", "-l16", "1", "2", "eth0", "f", "-m", "00:11:22:33:44:55,AABBCCDDEEFF"]);
    expect(c).toMatchObject({ readOnly: true, direct: true, sync: true, bufcnt: 128, offset: 8, length: 16 });
    expect(c.macs).toEqual([macKey(parseMac("00:11:22:33:44:55")), macKey(parseMac("aa:bb:cc:dd:ee:ff"))]);
    expect(parseServeArgs(["-rb", "7", "1", "2", "e", "f"])).toMatchObject({ readOnly: true, bufcnt: 7 });
    expect(parseServeArgs(["--", "1", "2", "e", "-f"]).file).toBe("-f");
  });
  test("long forms", () => {
    const c = parseServeArgs([
      "--bufcnt=32", "--direct", "--sync", "--read-only", "--mac", "001122334455", "--offset", "1", "--length=2",
      "--state-dir", "/var/lib/aoede", "--tag-tracking", "both", "--model", "M", "--serial=S", "3", "4", "eth1", "/dev/sdb",
    ]);
    expect(c).toMatchObject({
      bufcnt: 32, direct: true, sync: true, readOnly: true, offset: 1, length: 2,
      stateDir: "/var/lib/aoede", tagTracking: "both", model: "M", serial: "S", shelf: 3, slot: 4, netif: "eth1", file: "/dev/sdb",
    });
  });
  test("mistakes are UsageErrors that say what is wrong", () => {
    const bad: [string[], RegExp][] = [
      [[], /missing shelf, slot, netif, file/],
      [["1", "2", "eth0"], /missing file/],
      [["1", "2", "eth0", "f", "extra"], /unexpected argument "extra"/],
      [["-x", "1", "2", "e", "f"], /unknown option -x/],
      [["--nope", "1", "2", "e", "f"], /unknown option --nope/],
      [["-b"], /-b needs a value/],
      [["-b", "0", "1", "2", "e", "f"], /between 1 and 65535/],
      [["-b", "ten", "1", "2", "e", "f"], /whole number/],
      [["65535", "0", "e", "f"], /shelf must be between 0 and 65534/],
      [["1", "255", "e", "f"], /slot must be between 0 and 254/],
      [["-1", "0", "e", "f"], /unknown option -1/],
      [["-m", "01:02", "1", "2", "e", "f"], /invalid MAC/],
      [["-l", "0", "1", "2", "e", "f"], /between 1 and/],
      [["--tag-tracking", "always", "1", "2", "e", "f"], /rx, write or both/],
      [["--model", "x".repeat(41), "1", "2", "e", "f"], /40 characters/],
      [["--serial", "x".repeat(21), "1", "2", "e", "f"], /20 characters/],
      [["--direct=yes", "1", "2", "e", "f"], /takes no value/],
    ];
    for (const [argv, re] of bad) {
      let err: unknown;
      try {
        parseServeArgs(argv);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(re);
    }
  });
});

const ROOT = path.resolve(import.meta.dir, "../..");

/**
 * The command line that runs `aoede serve` as nobody. The checkout may sit under a
 * directory only root may enter (CI clones into a mode-0700 mkdtemp directory):
 * there Bun itself fails before any AoEde code runs ("error loading current
 * directory", then "CouldntReadCurrentDirectory": two lines that are not ours). So
 * the child gets a private mount namespace in which the checkout is bind-mounted at
 * a path it can reach, and starts in a directory it can read.
 */
function asNobody(args: string[]): string[] {
  const mnt = path.join(tmp, "checkout");
  fs.mkdirSync(mnt, { recursive: true });
  const inside = (p: string) => (p.startsWith(ROOT + path.sep) ? path.join(mnt, path.relative(ROOT, p)) : p);
  return [
    "unshare", "--mount", "--propagation", "private",
    "sh", "-c", 'mount --bind "$1" "$2" && cd "$3" && shift 3 && exec "$@"', "sh", ROOT, mnt, tmp,
    "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
    inside(process.execPath), inside(MAIN), "serve", ...args,
  ];
}

function run(args: string[], opts: { asNobody?: boolean } = {}) {
  const argv = opts.asNobody ? asNobody(args) : [process.execPath, MAIN, "serve", ...args];
  const r = Bun.spawnSync(argv, {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", HOME: tmp, BUN_INSTALL_CACHE_DIR: path.join(tmp, "cache") },
    timeout: 15_000,
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** One line on stderr, nothing on stdout. */
function expectOneLine(r: { stdout: string; stderr: string }, re: RegExp) {
  expect(r.stdout).toBe("");
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  // (the whole list on failure: a second line says what it is)
  expect(lines).toEqual([expect.stringMatching(/^aoede serve: /)]);
  expect(lines[0]!).toMatch(re);
}

describe("aoede serve failures", () => {
  const disk = path.join(tmp, "disk.img");
  fs.writeFileSync(disk, Buffer.alloc(64 * 512));
  fs.chmodSync(disk, 0o644);
  const stateDir = path.join(tmp, "state-never-created");

  test("bad command lines: exit 2", () => {
    for (const args of [[], ["1", "2"], ["-x", "1", "2", "eth0", disk], ["-b", "0", "1", "2", "eth0", disk], ["70000", "1", "eth0", disk]]) {
      const r = run(args);
      expect(r.code).toBe(2);
      expectOneLine(r, /usage: aoede serve/);
    }
  }, 30_000);

  test("missing file, a directory, a window past the end: exit 1 or 2, nothing written", () => {
    let r = run(["--state-dir", stateDir, "1", "2", "lo", path.join(tmp, "missing.img")]);
    expect(r.code).toBe(1);
    expectOneLine(r, /no such file/);
    r = run(["1", "2", "lo", tmp]);
    expect(r.code).toBe(1);
    expectOneLine(r, /is a directory/);
    r = run(["-o", "64", "1", "2", "lo", disk]);
    expect(r.code).toBe(2);
    expectOneLine(r, /smaller offset/);
    r = run(["-l", "65", "1", "2", "lo", disk]);
    expect(r.code).toBe(2);
    expectOneLine(r, /smaller length/);
    expect(fs.existsSync(stateDir)).toBe(false);
  }, 30_000);

  test("no such interface: exit 1, state directory untouched", () => {
    const r = run(["--state-dir", stateDir, "1", "2", "nosuchif0", disk]);
    expect(r.code).toBe(1);
    expectOneLine(r, /no network interface named nosuchif0/);
    expect(fs.existsSync(stateDir)).toBe(false);
    expect(fs.readFileSync(disk).every((b) => b === 0)).toBe(true);
  }, 30_000);

  test.skipIf(process.getuid?.() !== 0)("not root: unreadable file and no raw sockets, exit 1", () => {
    const secret = path.join(tmp, "secret.img");
    fs.writeFileSync(secret, Buffer.alloc(64 * 512));
    fs.chmodSync(secret, 0o600);
    let r = run(["1", "2", "lo", secret], { asNobody: true });
    expect(r.code).toBe(1);
    expectOneLine(r, /permission denied/);
    // readable but not writable: the message suggests -r
    r = run(["1", "2", "lo", disk], { asNobody: true });
    expect(r.code).toBe(1);
    expectOneLine(r, /-r/);
    r = run(["-r", "1", "2", "lo", disk], { asNobody: true });
    expect(r.code).toBe(1);
    expectOneLine(r, /needs root/);
  }, 30_000);

  test("--help documents the options and the tag-tracking caveat", () => {
    const r = run(["--help"]);
    expect(r.code).toBe(0);
    for (const opt of ["--bufcnt", "-d", "-s", "-r", "-m", "-o", "-l", "--state-dir", "--model", "--serial"]) expect(r.stdout).toContain(opt);
    expect(r.stdout).toMatch(/tag-tracking[\s\S]*UNSAFE with initiators whose tags do not increase/);
  }, 30_000);
});

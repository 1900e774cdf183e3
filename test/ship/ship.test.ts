/**
 * Shipping: the four executables, the host one running with no node_modules in
 * sight, install.sh into a temporary root and back out, the service files.
 *
 * The build runs once per test run (about 4 compiles of ~105 MiB; cross targets
 * fetch their Bun runtime once), or not at all when dist/ is newer than every
 * source. Binaries are hard-linked, not copied, into temporary directories.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "bun";
import {
  copyFileSync,
  existsSync,
  linkSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  chmodSync,
  lstatSync,
  readlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { canUseNetns, makeVethWorld } from "../../src/net/netns.ts";
import { DROP_INS } from "../../src/cli/dropin.ts";
import { cleanPath, listTree, rcScriptUnderStandIn, repo, runIn, tempDirs } from "../helpers/packaging.ts";

// Compiled binaries and install scripts as child processes: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(60_000);

const dist = join(repo, "dist");
const FILES = ["aoede", "aoede-linux-x64", "aoede-linux-arm64", "aoede-freebsd-x64"];
const version: string = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version;
const isRoot = process.getuid?.() === 0;

function newestSource(): number {
  let newest = 0;
  const walk = (p: string) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) walk(join(p, e));
    } else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ["src", "ffi", "scripts/build.ts", "package.json", "bun.lock"]) walk(join(repo, p));
  return newest;
}

function distIsFresh(): boolean {
  const newest = newestSource();
  return FILES.every((f) => existsSync(join(dist, f)) && statSync(join(dist, f)).mtimeMs >= newest);
}

const run = runIn(repo);

const tempDir = tempDirs();

/** A directory holding only the host binary (hard link; a copy if across file systems). */
let lonely = "";
let lonelyBin = "";

beforeAll(() => {
  if (!distIsFresh()) {
    const r = run([process.execPath, "scripts/build.ts"], { env: { ...process.env } as Record<string, string>, timeout: 170_000 });
    if (r.code !== 0) throw new Error(`build failed:\n${r.out}\n${r.err}`);
  }
  lonely = tempDir("aoede-ship-");
  chmodSync(lonely, 0o755);
  lonelyBin = join(lonely, "aoede");
  try {
    linkSync(join(dist, "aoede"), lonelyBin);
  } catch {
    copyFileSync(join(dist, "aoede"), lonelyBin);
    chmodSync(lonelyBin, 0o755);
  }
}, 180_000);

describe("build", () => {
  test("makes all four executables", () => {
    for (const f of FILES) {
      const st = statSync(join(dist, f));
      expect(st.size).toBeGreaterThan(20 * 2 ** 20);
      expect(st.mode & 0o111).not.toBe(0);
    }
  });

  test("`file` names each platform, the FreeBSD one as a FreeBSD executable", () => {
    const desc = (f: string) => run(["file", "-b", join(dist, f)]).out;
    expect(desc("aoede-freebsd-x64")).toMatch(/ELF 64-bit.*x86-64.*FreeBSD/);
    expect(desc("aoede-linux-x64")).toMatch(/ELF 64-bit.*x86-64.*GNU\/Linux/);
    expect(desc("aoede-linux-arm64")).toMatch(/ELF 64-bit.*aarch64.*GNU\/Linux/);
  });
});

describe("the host binary alone (no node_modules, clean environment)", () => {
  const env = () => ({ PATH: cleanPath, HOME: lonely });

  test("nothing but the binary is around", () => {
    expect(readdirSync(lonely)).toEqual(["aoede"]);
    for (let d = lonely; d !== "/"; d = resolve(d, "..")) expect(existsSync(join(d, "node_modules"))).toBe(false);
  });

  test("--version prints the version and the platform", () => {
    const r = run([lonelyBin, "--version"], { cwd: lonely, env: env() });
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(`aoede ${version} (${process.platform}-${process.arch})`);
  });

  test("--version starts well under 100 ms", () => {
    const times: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      run([lonelyBin, "--version"], { cwd: lonely, env: env() });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1]!;
    console.log(`aoede --version: median ${median.toFixed(1)} ms, best ${times[0]!.toFixed(1)} ms (incl. spawn)`);
    expect(median).toBeLessThan(100);
  });

  test("discover --help", () => {
    const r = run([lonelyBin, "discover", "--help"], { cwd: lonely, env: env() });
    expect(r.code).toBe(0);
    expect(r.out + r.err).toContain("discover");
    expect(r.out + r.err).not.toContain("not in this build");
  });

  test("every subcommand has --help with an example", async () => {
    const { main } = await import("../../src/cli/main.ts");
    const names = Object.keys((main.subCommands ?? {}) as Record<string, unknown>);
    expect(names).toContain("demo");
    const missing: string[] = [];
    for (const name of names) {
      const r = run([lonelyBin, name, "--help"], { cwd: lonely, env: env() });
      const text = r.out + r.err;
      if (r.code !== 0 || text.includes("not in this build")) missing.push(`${name}: no --help (exit ${r.code})`);
      else if (!/example/i.test(text)) missing.push(`${name}: --help shows no example`);
    }
    expect(missing).toEqual([]);
  });

  test("serve logs its start-up line and its exit with output to a file, as under systemd", async () => {
    if (!canUseNetns()) {
      console.log("SKIP serve logging: needs root and iproute2");
      return;
    }
    const w = makeVethWorld("shp");
    const img = join(lonely, "..", `aoede-ship-${process.pid}.img`);
    try {
      writeFileSync(img, new Uint8Array(0));
      truncateSync(img, 8 * 2 ** 20);
      const p = Bun.spawn([...w.prefix(w.nsA), lonelyBin, "serve", "9", "0", w.ifA, img], {
        cwd: lonely,
        env: { PATH: cleanPath },
        stdout: "pipe",
        stderr: "pipe",
      });
      await Bun.sleep(1500);
      p.kill("SIGTERM");
      const code = await p.exited;
      const text = (await new Response(p.stdout).text()) + (await new Response(p.stderr).text());
      expect(code).toBe(0);
      expect(text).toContain("e9.0, 16384 sectors");
      expect(text).toContain("SIGTERM");
    } finally {
      w.dispose();
      rmSync(img, { force: true });
    }
  }, 20_000);

  test("demo without root says it needs root and exits 1", () => {
    if (!isRoot) return; // as a plain user, the demo test below covers it
    if (spawnSync(["sh", "-c", "command -v setpriv"], { stdout: "ignore" }).exitCode !== 0) {
      console.log("SKIP demo as nobody: setpriv (util-linux) is not installed");
      return;
    }
    const r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", lonelyBin, "demo"], {
      cwd: "/",
      env: env(),
    });
    expect(r.code).toBe(1);
    expect(r.out + r.err).toMatch(/root/);
  });

  test(
    "demo: serves, discovers, writes and reads back, cleans up",
    () => {
      const r = run([lonelyBin, "demo"], { cwd: lonely, env: env(), timeout: 100_000 });
      if (!isRoot) {
        expect(r.code).toBe(1);
        expect(r.out + r.err).toMatch(/root/);
        return;
      }
      if (r.code !== 0) console.error(r.out, r.err);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/sha256 [0-9a-f]{8,}.* match/i);
      expect(r.out).toMatch(/MB\/s/);
      // nothing of the demo's world is left behind
      const ns = run(["ip", "netns", "list"]).out;
      expect(ns).not.toMatch(/aoede-demo-/);
      expect(readdirSync(lonely)).toEqual(["aoede"]);
    },
    110_000,
  );
});

describe("install.sh", () => {
  test("sh -n passes on install.sh and the rc.d script", () => {
    for (const f of ["install.sh", "packaging/freebsd/aoede"]) {
      const r = run(["sh", "-n", f]);
      expect({ f, code: r.code, err: r.err }).toEqual({ f, code: 0, err: "" });
    }
  });

  test("--help", () => {
    const r = run(["sh", "install.sh", "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("--uninstall");
    expect(r.out).toContain("Examples:");
  });

  test("Linux: installs into a temporary root and uninstalls to nothing", () => {
    const root = tempDir("aoede-root-");
    const r = run(["sh", "install.sh", "--root", root, "--binary", join(dist, "aoede")]);
    expect(r.code).toBe(0);
    const files = listTree(root);
    for (const f of [
      "/usr/local/sbin/aoede",
      "/etc/systemd/system/aoede@.service",
      "/etc/aoede/example.conf.sample",
      "/usr/local/share/aoede/installed",
    ]) {
      expect(files).toContain(f);
    }
    expect(run([join(root, "usr/local/sbin/aoede"), "--version"]).out).toContain(version);
    const u = run(["sh", "install.sh", "--root", root, "--uninstall"]);
    expect(u.code).toBe(0);
    expect(listTree(root)).toEqual([]);
  });

  test("Linux: --prefix moves the binary and the unit follows it; a user's conf survives uninstall", () => {
    const root = tempDir("aoede-root-");
    const fake = join(root, "..", `aoede-fake-${process.pid}`);
    writeFileSync(fake, "#!/bin/sh\necho aoede 0.0.0\n", { mode: 0o755 });
    try {
      expect(run(["sh", "install.sh", "--root", root, "--prefix", "/opt/aoede", "--binary", fake]).code).toBe(0);
      expect(existsSync(join(root, "opt/aoede/sbin/aoede"))).toBe(true);
      const unit = readFileSync(join(root, "etc/systemd/system/aoede@.service"), "utf8");
      expect(unit).toContain("ExecStart=/opt/aoede/sbin/aoede serve $AOEDE_ARGS");
      writeFileSync(join(root, "etc/aoede/disk0.conf"), 'AOEDE_ARGS="9 0 eth0 /srv/d.img"\n');
      expect(run(["sh", "install.sh", "--root", root, "--prefix", "/opt/aoede", "--uninstall"]).code).toBe(0);
      expect(listTree(root)).toEqual(["/etc", "/etc/aoede", "/etc/aoede/disk0.conf"]);
    } finally {
      rmSync(fake, { force: true });
    }
  });

  test("FreeBSD: installs the binary and rc.d script into a temporary root and uninstalls to nothing", () => {
    const root = tempDir("aoede-root-");
    const r = run(["sh", "install.sh", "--os", "freebsd", "--root", root, "--binary", join(dist, "aoede-freebsd-x64")]);
    expect(r.code).toBe(0);
    const files = listTree(root);
    expect(files).toContain("/usr/local/sbin/aoede");
    expect(files).toContain("/usr/local/etc/rc.d/aoede");
    expect(statSync(join(root, "usr/local/etc/rc.d/aoede")).mode & 0o777).toBe(0o555);
    expect(run(["file", "-b", join(root, "usr/local/sbin/aoede")]).out).toContain("FreeBSD");
    expect(run(["sh", "install.sh", "--os", "freebsd", "--root", root, "--uninstall"]).code).toBe(0);
    expect(listTree(root)).toEqual([]);
  });
});

describe("drop-in names: install.sh --links, the compiled binary run through the links", () => {
  const names = Object.keys(DROP_INS).sort();
  let root = "";
  let sbin = "";

  beforeAll(() => {
    root = tempDir("aoede-links-");
    chmodSync(root, 0o755);
    const r = run(["sh", "install.sh", "--root", root, "--binary", join(dist, "aoede"), "--links"]);
    if (r.code !== 0) throw new Error(`install --links failed:\n${r.out}\n${r.err}`);
    sbin = join(root, "usr/local/sbin");
  });

  test("--links makes one relative link per drop-in name, recorded with the manual page in the manifest", () => {
    expect(readdirSync(sbin).sort()).toEqual(["aoede", ...names].sort());
    for (const n of names) {
      expect(lstatSync(join(sbin, n)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(sbin, n))).toBe("aoede");
    }
    const manifest = readFileSync(join(root, "usr/local/share/aoede/installed"), "utf8").split("\n");
    for (const n of names) expect(manifest).toContain(`file /usr/local/sbin/${n}`);
    expect(manifest).toContain("file /usr/local/share/man/man8/aoede.8");
    expect(readFileSync(join(root, "usr/local/share/man/man8/aoede.8"), "utf8")).toBe(readFileSync(join(repo, "man/aoede.8"), "utf8"));
  });

  test("without --links there are none; someone else's vblade is kept, and survives uninstall", () => {
    const plain = tempDir("aoede-nolinks-");
    expect(run(["sh", "install.sh", "--root", plain, "--binary", join(dist, "aoede")]).code).toBe(0);
    expect(readdirSync(join(plain, "usr/local/sbin"))).toEqual(["aoede"]);
    const theirs = join(plain, "usr/local/sbin/vblade");
    writeFileSync(theirs, "#!/bin/sh\necho the real vblade\n", { mode: 0o755 });
    const r = run(["sh", "install.sh", "--root", plain, "--binary", join(dist, "aoede"), "--links"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("not from an earlier install");
    expect(lstatSync(theirs).isSymbolicLink()).toBe(false);
    expect(lstatSync(join(plain, "usr/local/sbin/aoe-stat")).isSymbolicLink()).toBe(true);
    expect(run(["sh", "install.sh", "--root", plain, "--uninstall"]).code).toBe(0);
    expect(readFileSync(theirs, "utf8")).toContain("the real vblade");
    expect(existsSync(join(plain, "usr/local/sbin/aoe-stat"))).toBe(false);
    expect(existsSync(join(plain, "usr/local/sbin/aoede"))).toBe(false);
  });

  test("--help piped: no colour (the compiled binary decides before citty loads); vblade --help is serve's", () => {
    const env = { PATH: cleanPath, TERM: "xterm-256color" };
    const top = run([join(sbin, "aoede"), "--help"], { env });
    expect(top.code).toBe(0);
    expect(top.out).toContain("USAGE");
    expect(top.out.includes("\x1b[")).toBe(false);
    const forced = run([join(sbin, "aoede"), "--help"], { env: { ...env, FORCE_COLOR: "1" } });
    expect(forced.out.includes("\x1b[")).toBe(true);
    const vb = run([join(sbin, "vblade"), "--help"], { env });
    expect(vb.code).toBe(0);
    expect(vb.out).toContain("--bufcnt");
    expect(vb.out.includes("\x1b[")).toBe(false);
  });

  test("vblade: vblade's usage for a bad command line", () => {
    const r = run([join(sbin, "vblade"), "1", "2"], { env: { PATH: cleanPath } });
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toBe(
      "vblade: missing netif, file\nusage: vblade [-b bufcnt] [-o offset] [-l length] [-d ] [-s] [-r] [ -m mac[,mac...] ] shelf slot netif filename\n",
    );
  });

  test("vblade serves with vblade's start-up line; aoe-stat prints the table aoede stat prints; aoe-discover broadcasts and prints nothing", async () => {
    if (!canUseNetns()) {
      console.log("SKIP drop-in names over veth: needs root and iproute2");
      return;
    }
    const w = makeVethWorld("dro");
    const img = join(root, "..", `aoede-dropin-${process.pid}.img`);
    let p: ReturnType<typeof Bun.spawn> | undefined;
    try {
      writeFileSync(img, new Uint8Array(0));
      truncateSync(img, 8 * 2 ** 20);
      p = Bun.spawn([...w.prefix(w.nsA), join(sbin, "vblade"), "-b", "8", "9", "0", w.ifA, img], {
        env: { PATH: cleanPath },
        stdout: "pipe",
        stderr: "pipe",
      });
      const out = { text: "" };
      (async () => {
        const d = new TextDecoder();
        for await (const c of p!.stdout as ReadableStream<Uint8Array>) out.text += d.decode(c, { stream: true });
      })().catch(() => {});
      const waitFor = async (re: RegExp) => {
        for (const end = Date.now() + 10_000; !re.test(out.text); await Bun.sleep(20)) {
          if (Date.now() > end) throw new Error(`no ${re} in vblade's output:\n${out.text}`);
        }
      };
      await waitFor(/\n/);
      // vblade 25: printf("pid %ld: e%d.%d, %lld sectors %s\n", ...), and nothing else.
      expect(out.text).toBe(`pid ${p.pid}: e9.0, 16384 sectors O_RDWR\n`);

      const inB = (name: string, ...args: string[]) => run([...w.prefix(w.nsB), join(sbin, name), ...args], { env: { PATH: cleanPath } });
      const stat = inB("aoe-stat", "-i", w.ifB);
      expect(stat.code).toBe(0);
      expect(stat.err).toBe("");
      expect(stat.out).toMatch(new RegExp(`^\\s+e9\\.0\\s+0\\.008GB\\s+${w.ifB}\\s+1024\\s+up\\s*\n$`));
      expect(inB("aoede", "stat", "-i", w.ifB).out).toBe(stat.out);

      const frames = async () => {
        const before = out.text.length;
        p!.kill("SIGUSR1");
        for (const end = Date.now() + 5000; !/e9\.0: \d+ frames/.test(out.text.slice(before)); await Bun.sleep(20)) {
          if (Date.now() > end) throw new Error(`no counters after SIGUSR1:\n${out.text}`);
        }
        return Number(/e9\.0: (\d+) frames/.exec(out.text.slice(before))![1]);
      };
      const n0 = await frames();
      const disc = inB("aoe-discover", "-i", w.ifB);
      expect({ code: disc.code, out: disc.out, err: disc.err }).toEqual({ code: 0, out: "", err: "" });
      expect(await frames()).toBeGreaterThan(n0);
    } finally {
      p?.kill("SIGKILL");
      await p?.exited;
      w.dispose();
      rmSync(img, { force: true });
    }
  }, 40_000);
});

describe("service files", () => {
  test("systemd-analyze verify accepts the unit", () => {
    const has = spawnSync(["sh", "-c", "command -v systemd-analyze"], { stdout: "pipe" }).exitCode === 0;
    if (!has) {
      console.log("SKIP systemd-analyze verify: systemd-analyze is not installed here");
      return;
    }
    const dir = tempDir("aoede-unit-");
    // The unit as installed, pointing at a binary that exists here.
    const unit = readFileSync(join(repo, "packaging/systemd/aoede@.service"), "utf8").replace(
      "ExecStart=/usr/local/sbin/aoede ",
      `ExecStart=${join(dist, "aoede")} `,
    );
    const path = join(dir, "aoede@.service");
    writeFileSync(path, unit);
    const r = run(["systemd-analyze", "verify", path], { env: { PATH: cleanPath, SYSTEMD_LOG_LEVEL: "warning" } });
    const ours = (r.out + r.err).split("\n").filter((l) => l.includes("aoede"));
    expect({ code: r.code, ours }).toEqual({ code: 0, ours: [] });
  });

  describe("rc.d script under a stand-in rc.subr", () => {
    // A stand-in for /etc/rc.subr that records what run_rc_command would run.
    const setup = (rcconf: string) => rcScriptUnderStandIn({ script: "aoede", rcconf, tempDir });
    const conf = `aoede_enable="YES"\naoede_exports="a b"\naoede_a_flags="9 0 em0 /dev/ada1"\naoede_b_flags="-b 64 9 1 em0 /tank/b.img"\n`;

    test("start runs one daemon(8) per export, with a pidfile and syslog tag each", () => {
      const rc = setup(conf);
      const r = rc("start");
      expect(r.code).toBe(0);
      const lines = r.out.trim().split("\n");
      expect(lines).toEqual([
        "RUN start name=aoede pidfile=/var/run/aoede/a.pid command=/usr/sbin/daemon args=-P /var/run/aoede/a.pid -R 5 -S -T aoede_a -l daemon -s notice -- /usr/local/sbin/aoede serve 9 0 em0 /dev/ada1",
        "RUN start name=aoede pidfile=/var/run/aoede/b.pid command=/usr/sbin/daemon args=-P /var/run/aoede/b.pid -R 5 -S -T aoede_b -l daemon -s notice -- /usr/local/sbin/aoede serve -b 64 9 1 em0 /tank/b.img",
      ]);
    });

    test("stop and status name one export or all", () => {
      const rc = setup(conf);
      expect(rc("status", "b").out).toContain("RUN status name=aoede pidfile=/var/run/aoede/b.pid");
      const stop = rc("stop").out;
      expect(stop).toContain("RUN stop name=aoede pidfile=/var/run/aoede/a.pid");
      expect(stop).toContain("RUN stop name=aoede pidfile=/var/run/aoede/b.pid");
      expect(rc("faststop").out.match(/RUN faststop/g)?.length).toBe(2);
    });

    test("no exports: start does nothing; a bad export name is refused", () => {
      expect(setup(`aoede_enable="NO"\n`)("start")).toMatchObject({ code: 0, out: "" });
      const r = setup(conf)("start", "x;y");
      expect(r.code).toBe(1);
      expect(r.out).toContain("letters, digits and _ only");
    });

    test("restart delay 0 means no restart", () => {
      const r = setup(`${conf}aoede_restart_delay=0\n`)("start", "a");
      expect(r.out).toContain("args=-P /var/run/aoede/a.pid -S -T aoede_a");
    });
  });
});

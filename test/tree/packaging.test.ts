/**
 * The tree's service files: systemd-analyze verify on aoede-tree.service,
 * the FreeBSD rc.d script under a stand-in rc.subr, and install.sh putting
 * both in place (and taking them away again) in a temporary root.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "bun";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

setDefaultTimeout(30_000);

const repo = join(import.meta.dir, "../..");
const temps: string[] = [];
const tempDir = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function run(args: string[], env?: Record<string, string>) {
  const r = spawnSync(args, { cwd: repo, stdout: "pipe", stderr: "pipe", env: env ?? process.env });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function everything(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      out.push(join(p, e.name).slice(dir.length));
      if (e.isDirectory()) walk(join(p, e.name));
    }
  };
  walk(dir);
  return out.sort();
}

describe("aoede-tree.service", () => {
  const has = spawnSync(["sh", "-c", "command -v systemd-analyze"], { stdout: "pipe" }).exitCode === 0;

  test.skipIf(!has)("systemd-analyze verify accepts it", () => {
    const dir = tempDir("aoede-tree-unit-");
    const bin = join(dir, "aoede");
    writeFileSync(bin, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const unit = readFileSync(join(repo, "packaging/systemd/aoede-tree.service"), "utf8").replace("ExecStart=/usr/local/sbin/aoede ", `ExecStart=${bin} `);
    const path = join(dir, "aoede-tree.service");
    writeFileSync(path, unit);
    const r = run(["systemd-analyze", "verify", path], { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", SYSTEMD_LOG_LEVEL: "warning" });
    const ours = (r.out + r.err).split("\n").filter((l) => l.includes("aoede"));
    expect({ code: r.code, ours }).toEqual({ code: 0, ours: [] });
  });

  test("mounts at /run/aoe with aoede mount, stops with SIGTERM, and has no mount namespace of its own", () => {
    const unit = readFileSync(join(repo, "packaging/systemd/aoede-tree.service"), "utf8");
    expect(unit).toContain("Environment=AOEDE_TREE_MOUNTPOINT=/run/aoe\n");
    expect(unit).toContain("ExecStart=/usr/local/sbin/aoede mount $AOEDE_TREE_ARGS ${AOEDE_TREE_MOUNTPOINT}\n");
    expect(unit).toContain("Type=simple\n");
    expect(unit).toContain("KillSignal=SIGTERM\n");
    for (const opt of ["ProtectSystem=", "ProtectHome=", "PrivateTmp=", "PrivateDevices=", "ProtectKernelTunables=", "ProtectControlGroups=", "ReadOnlyPaths="]) {
      expect(unit.split("\n").some((l) => l.startsWith(opt))).toBe(false);
    }
  });
});

describe("rc.d aoede_tree under a stand-in rc.subr", () => {
  const setup = (rcconf: string) => {
    const dir = tempDir("aoede-rctree-");
    writeFileSync(
      join(dir, "rc.subr"),
      `load_rc_config() { . "${dir}/rc.conf"; }
run_rc_command() { echo "RUN $1 name=$name rcvar=$rcvar pidfile=$pidfile command=$command args=$command_args"; }
warn() { echo "WARN $*"; }
`,
    );
    writeFileSync(join(dir, "rc.conf"), rcconf);
    const script = join(dir, "aoede_tree");
    writeFileSync(script, readFileSync(join(repo, "packaging/freebsd/aoede_tree"), "utf8").replace(". /etc/rc.subr", `. "${dir}/rc.subr"`), { mode: 0o755 });
    return (...args: string[]) => run(["sh", script, ...args]);
  };

  test("sh -n", () => {
    expect(run(["sh", "-n", "packaging/freebsd/aoede_tree"])).toEqual({ code: 0, out: "", err: "" });
  });

  test("start: daemon(8) running aoede mount with the args and the mount point", () => {
    const r = setup(`aoede_tree_enable="YES"\naoede_tree_args="-i em0 -i em1"\n`)("start");
    expect(r.out.trim()).toBe(
      "RUN start name=aoede_tree rcvar=aoede_tree_enable pidfile=/var/run/aoede_tree.pid command=/usr/sbin/daemon " +
        "args=-P /var/run/aoede_tree.pid -R 5 -S -T aoede_tree -- /usr/local/sbin/aoede mount -i em0 -i em1 /var/run/aoe",
    );
  });

  test("another mount point; restart delay 0 means no restart", () => {
    const r = setup(`aoede_tree_mountpoint="/mnt/aoe"\naoede_tree_restart_delay=0\n`)("stop");
    expect(r.out).toContain("args=-P /var/run/aoede_tree.pid -S -T aoede_tree -- /usr/local/sbin/aoede mount  /mnt/aoe");
  });
});

describe("install.sh", () => {
  const fakeBinary = () => {
    const f = join(tempDir("aoede-fakebin-"), "aoede");
    writeFileSync(f, "#!/bin/sh\necho aoede 0.0.0\n", { mode: 0o755 });
    return f;
  };

  test("Linux: the tree's unit and sample settings, the ExecStart path following --prefix; uninstall takes them", () => {
    const root = tempDir("aoede-root-");
    expect(run(["sh", "install.sh", "--root", root, "--prefix", "/opt/aoede", "--binary", fakeBinary()]).code).toBe(0);
    const unit = readFileSync(join(root, "etc/systemd/system/aoede-tree.service"), "utf8");
    expect(unit).toContain("ExecStart=/opt/aoede/sbin/aoede mount $AOEDE_TREE_ARGS ${AOEDE_TREE_MOUNTPOINT}");
    expect(existsSync(join(root, "etc/aoede/tree.conf.sample"))).toBe(true);
    expect(run(["sh", "install.sh", "--root", root, "--prefix", "/opt/aoede", "--uninstall"]).code).toBe(0);
    expect(everything(root)).toEqual([]);
  });

  test("FreeBSD: rc.d/aoede_tree, mode 0555, pointing at the installed binary; uninstall takes it", () => {
    const root = tempDir("aoede-root-");
    expect(run(["sh", "install.sh", "--os", "freebsd", "--root", root, "--prefix", "/opt/aoede", "--binary", fakeBinary()]).code).toBe(0);
    const rc = join(root, "opt/aoede/etc/rc.d/aoede_tree");
    expect(statSync(rc).mode & 0o777).toBe(0o555);
    expect(readFileSync(rc, "utf8")).toContain(': "${aoede_tree_program:=/opt/aoede/sbin/aoede}"');
    expect(run(["sh", "install.sh", "--os", "freebsd", "--root", root, "--prefix", "/opt/aoede", "--uninstall"]).code).toBe(0);
    expect(everything(root)).toEqual([]);
  });
});

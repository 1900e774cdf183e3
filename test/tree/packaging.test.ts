/**
 * The tree's service files: systemd-analyze verify on aoede-tree.service,
 * the FreeBSD rc.d script under a stand-in rc.subr, and install.sh putting
 * both in place (and taking them away again) in a temporary root.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "bun";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { listTree, rcScriptUnderStandIn, repo, runIn, tempDirs } from "../helpers/packaging.ts";

setDefaultTimeout(30_000);

const run = runIn(repo);
const tempDir = tempDirs();

describe("aoede-tree.service", () => {
  const has = spawnSync(["sh", "-c", "command -v systemd-analyze"], { stdout: "pipe" }).exitCode === 0;

  test.skipIf(!has)("systemd-analyze verify accepts it", () => {
    const dir = tempDir("aoede-tree-unit-");
    const bin = join(dir, "aoede");
    writeFileSync(bin, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const unit = readFileSync(join(repo, "packaging/systemd/aoede-tree.service"), "utf8").replace("ExecStart=/usr/local/sbin/aoede ", `ExecStart=${bin} `);
    const path = join(dir, "aoede-tree.service");
    writeFileSync(path, unit);
    const r = run(["systemd-analyze", "verify", path], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", SYSTEMD_LOG_LEVEL: "warning" } });
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
  // The tree's run_rc_command also prints its rcvar.
  const setup = (rcconf: string) => rcScriptUnderStandIn({ script: "aoede_tree", rcconf, tempDir, extraFields: ["rcvar"] });

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
    expect(listTree(root)).toEqual([]);
  });

  test("FreeBSD: rc.d/aoede_tree, mode 0555, pointing at the installed binary; uninstall takes it", () => {
    const root = tempDir("aoede-root-");
    expect(run(["sh", "install.sh", "--os", "freebsd", "--root", root, "--prefix", "/opt/aoede", "--binary", fakeBinary()]).code).toBe(0);
    const rc = join(root, "opt/aoede/etc/rc.d/aoede_tree");
    expect(statSync(rc).mode & 0o777).toBe(0o555);
    expect(readFileSync(rc, "utf8")).toContain(': "${aoede_tree_program:=/opt/aoede/sbin/aoede}"');
    expect(run(["sh", "install.sh", "--os", "freebsd", "--root", root, "--prefix", "/opt/aoede", "--uninstall"]).code).toBe(0);
    expect(listTree(root)).toEqual([]);
  });
});

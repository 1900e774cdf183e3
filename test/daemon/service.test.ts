/**
 * The daemon's service files, as test/ship checks aoede@.service and the rc.d
 * script: systemd-analyze verify on aoede.service, the rc.d script's aoede_config
 * mode under a stand-in rc.subr, and install.sh putting aoede.service and the
 * sample config in place (and taking them away again) in a temporary root.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "bun";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDaemonConfig } from "../../src/daemon/config.ts";
import { cleanPath, listTree, rcScriptUnderStandIn, repo, runIn, tempDirs } from "../helpers/packaging.ts";

setDefaultTimeout(30_000);

const run = runIn(repo);
const tempDir = tempDirs();

describe("aoede.service", () => {
  const unit = readFileSync(join(repo, "packaging/systemd/aoede.service"), "utf8");

  test("systemd-analyze verify accepts it", () => {
    if (spawnSync(["sh", "-c", "command -v systemd-analyze"], { stdout: "pipe" }).exitCode !== 0) {
      console.log("SKIP systemd-analyze verify: systemd-analyze is not installed here");
      return;
    }
    const dir = tempDir("aoede-dunit-");
    const fake = join(dir, "aoede");
    writeFileSync(fake, "#!/bin/sh\n");
    chmodSync(fake, 0o755);
    const path = join(dir, "aoede.service");
    writeFileSync(path, unit.replace("ExecStart=/usr/local/sbin/aoede ", `ExecStart=${fake} `));
    const r = run(["systemd-analyze", "verify", path], { env: { PATH: cleanPath, SYSTEMD_LOG_LEVEL: "warning" } });
    const ours = (r.out + r.err).split("\n").filter((l) => l.includes("aoede"));
    expect({ code: r.code, ours }).toEqual({ code: 0, ours: [] });
  });

  test("Type=notify, reload by SIGHUP, and the template's hardening line for line", () => {
    expect(unit).toContain("\nType=notify\n");
    expect(unit).toContain("\nExecReload=/bin/kill -HUP $MAINPID\n");
    expect(unit).toContain("\nExecStart=/usr/local/sbin/aoede daemon -c /etc/aoede/aoede.toml\n");
    const template = readFileSync(join(repo, "packaging/systemd/aoede@.service"), "utf8");
    const hardening = (t: string) => t.slice(t.indexOf("\nCapabilityBoundingSet=")).split("\n").filter((l) => /^[A-Z]\w+=/.test(l) && !l.startsWith("WantedBy"));
    expect(hardening(unit)).toEqual(hardening(template));
    expect(hardening(unit).length).toBeGreaterThan(10);
  });

  test("the sample config is a good file (its paths aside)", () => {
    const c = parseDaemonConfig(readFileSync(join(repo, "packaging/aoede.toml.example"), "utf8"), "aoede.toml", { checkPaths: false });
    expect(c.defaults.controlSocket).toBe("/run/aoede/aoede.sock");
    expect(c.defaults.stateDir).toBe("/var/lib/aoede");
  });
});

describe("rc.d script with aoede_config", () => {
  // The daemon's run_rc_command also prints its precmd, extra commands and reload command.
  const setup = (rcconf: string) => rcScriptUnderStandIn({ script: "aoede", rcconf, tempDir, extraFields: ["precmd", "extra", "reload"] });

  test("start runs one daemon(8) supervising aoede daemon -c FILE, checked first; reload is a command", () => {
    const rc = setup(`aoede_enable="YES"\naoede_config="/usr/local/etc/aoede/aoede.toml"\naoede_exports="a"\naoede_a_flags="9 0 em0 /x"\n`);
    const r = rc("start");
    expect(r.code).toBe(0);
    expect(r.out.trim().split("\n")).toEqual([
      "RUN start name=aoede pidfile=/var/run/aoede/daemon.pid command=/usr/sbin/daemon args=-P /var/run/aoede/daemon.pid -R 5 -S -T aoede -l daemon -s notice " +
        "-- /usr/local/sbin/aoede daemon -c /usr/local/etc/aoede/aoede.toml precmd=aoede_daemon_prestart extra=reload reload=aoede_daemon_reload",
    ]);
    expect(rc("reload").out).toStartWith("RUN reload name=aoede pidfile=/var/run/aoede/daemon.pid");
  });

  test("without aoede_config: one daemon(8) per export, as before", () => {
    const r = setup(`aoede_enable="YES"\naoede_exports="a"\naoede_a_flags="9 0 em0 /x"\n`)("start");
    expect(r.out).toContain("pidfile=/var/run/aoede/a.pid");
    expect(r.out).toContain("-- /usr/local/sbin/aoede serve 9 0 em0 /x");
  });
});

describe("install.sh", () => {
  const fakeBinary = () => {
    const dir = tempDir("aoede-dbin-");
    const fake = join(dir, "aoede");
    writeFileSync(fake, "#!/bin/sh\necho aoede 0.0.0\n", { mode: 0o755 });
    return fake;
  };

  test("Linux: aoede.service and /etc/aoede/aoede.toml.sample, recorded, and removed again", () => {
    const root = tempDir("aoede-droot-");
    const r = run(["sh", "install.sh", "--root", root, "--prefix", "/opt/ao", "--binary", fakeBinary()]);
    expect(r.code).toBe(0);
    const files = listTree(root);
    expect(files).toContain("/etc/systemd/system/aoede.service");
    expect(files).toContain("/etc/aoede/aoede.toml.sample");
    expect(readFileSync(join(root, "etc/systemd/system/aoede.service"), "utf8")).toContain("ExecStart=/opt/ao/sbin/aoede daemon -c /etc/aoede/aoede.toml\n");
    expect(readFileSync(join(root, "etc/aoede/aoede.toml.sample"), "utf8")).toBe(readFileSync(join(repo, "packaging/aoede.toml.example"), "utf8"));
    const manifest = readFileSync(join(root, "opt/ao/share/aoede/installed"), "utf8");
    expect(manifest).toContain("file /etc/systemd/system/aoede.service\n");
    expect(manifest).toContain("file /etc/aoede/aoede.toml.sample\n");
    writeFileSync(join(root, "etc/aoede/aoede.toml"), "# mine\n");
    expect(run(["sh", "install.sh", "--root", root, "--prefix", "/opt/ao", "--uninstall"]).code).toBe(0);
    expect(listTree(root)).toEqual(["/etc", "/etc/aoede", "/etc/aoede/aoede.toml"]);
  });

  test("FreeBSD: PREFIX/etc/aoede/aoede.toml.sample beside the rc.d script, removed again", () => {
    const root = tempDir("aoede-droot-");
    expect(run(["sh", "install.sh", "--os", "freebsd", "--root", root, "--binary", fakeBinary()]).code).toBe(0);
    expect(existsSync(join(root, "usr/local/etc/aoede/aoede.toml.sample"))).toBe(true);
    expect(run(["sh", "install.sh", "--os", "freebsd", "--root", root, "--uninstall"]).code).toBe(0);
    expect(listTree(root)).toEqual([]);
  });
});

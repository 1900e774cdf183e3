/**
 * Bad configuration input to `aoede daemon`: seeded mutations of
 * packaging/aoede.toml.example (made to run here: its images, its interface in a
 * veth world of its own) — lines deleted, doubled, swapped, keys renamed, values
 * replaced by wrong types and out-of-range numbers, bytes flipped, the file cut
 * short, stray tables and garbage lines. For each:
 *   - `aoede daemon --check` says 0 or 2, and
 *   - `aoede daemon` either exits 2 having opened nothing (no control socket, no
 *     state directory, not one frame on the wire) or starts fully (every export
 *     --check named, the control socket there) and stops cleanly on SIGTERM;
 *     and it does what --check said it would.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeVethWorld } from "../test/helpers/netns.ts";
import { seededUint32 } from "../test/helpers/prng.ts";
import { RawClient } from "../test/helpers/raw-client.ts";
import { MAIN, spawnAoede } from "../test/helpers/serve-proc.ts";

const EXAMPLE = path.join(import.meta.dir, "../packaging/aoede.toml.example");

export interface ConfigFuzzOptions {
  files: number;
  seed: number;
  log?: (line: string) => void;
}

export interface ConfigFuzzFigures {
  seed: number;
  files: number;
  refused: number;
  started: number;
  /** files whose outcome broke the rule, with why (empty when all is well) */
  violations: { file: string; why: string }[];
}

const VALUES = [
  "-1", "0", "255", "65535", "70000", "1e309", "nan", "inf", "9999999999999999999", "0x10", "3.5",
  '""', '"x"', `"${"a".repeat(300)}"`, "true", "[]", '["eth1", 3]', "{ a = 1 }", '"/nonexistent/dir/file"',
  "'single'", '"""multi\nline"""', '"\\u0000"', "1979-05-27", "[1, 2", '"2"', '"*"', '["*"]',
];
// Values and lines stay inside the campaign's directory and namespaces: nothing that
// names a host path to replace or a place to mount.
const LINES = ["[export.disk0]", "[defaults]", "[export]", "[[export]]", "shelf = 9", "slot = 0", "x =", "= 1", "path = 1", "[export.é]", "\u0000", "interfaces = []", "[export.disk0.extra]"];

function mutate(text: string, next: () => number): string {
  let lines = text.split("\n");
  const pick = () => next() % Math.max(1, lines.length);
  const ops = 1 + (next() % 3);
  for (let k = 0; k < ops; k++) {
    switch (next() % 8) {
      case 0:
        lines.splice(pick(), 1);
        break;
      case 1: {
        const i = pick();
        lines.splice(i, 0, lines[i] ?? "");
        break;
      }
      case 2: {
        // a value replaced
        const kv = lines.map((l, i) => [l, i] as const).filter(([l]) => /^\s*\w+\s*=/.test(l));
        if (kv.length === 0) break;
        const [l, i] = kv[next() % kv.length]!;
        lines[i] = l.replace(/=.*/, `= ${VALUES[next() % VALUES.length]}`);
        break;
      }
      case 3: {
        // a key renamed
        const kv = lines.map((l, i) => [l, i] as const).filter(([l]) => /^\s*\w+\s*=/.test(l));
        if (kv.length === 0) break;
        const [l, i] = kv[next() % kv.length]!;
        lines[i] = l.replace(/^(\s*)(\w+)/, (_, sp, key) => sp + (next() % 2 ? key + "x" : ["shelf", "slot", "path", "bufcnt", "interfaces", "state_dir"][next() % 6]));
        break;
      }
      case 4: {
        const t = lines.join("\n");
        lines = t.slice(0, next() % (t.length + 1)).split("\n");
        break;
      }
      case 5: {
        const t = lines.join("\n");
        if (t.length === 0) break;
        const at = next() % t.length;
        lines = (t.slice(0, at) + String.fromCharCode(next() % 128) + t.slice(at + 1)).split("\n");
        break;
      }
      case 6:
        lines.splice(pick(), 0, LINES[next() % LINES.length]!);
        break;
      default: {
        const i = pick();
        const j = pick();
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      }
    }
  }
  return lines.join("\n");
}

export async function configFuzzCampaign(o: ConfigFuzzOptions): Promise<ConfigFuzzFigures> {
  const log = o.log ?? (() => {});
  const w = makeVethWorld("cf");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aoede-soak-config-"));
  const client = new RawClient(w.ifB, w.nsB);
  const targetMac = w.macA.toLowerCase();
  const fromDaemon = (since: number) =>
    client.received.slice(since).filter((r) => Array.from(r.h.src, (b) => b.toString(16).padStart(2, "0")).join(":") === targetMac).length;
  try {
    const imgs = [path.join(dir, "disk0.img"), path.join(dir, "backup.img")];
    for (const p of imgs) {
      fs.writeFileSync(p, "");
      fs.truncateSync(p, 1 << 20);
    }
    const base = fs
      .readFileSync(EXAMPLE, "utf8")
      // Relative paths (taken from the file's directory): a flipped byte in a path then
      // names another place in the campaign's directory, not one elsewhere on the host
      // (absolute paths did: state directories of daemons that started, left in /tmp).
      .replaceAll('"/srv/aoe/disk0.img"', '"disk0.img"')
      .replaceAll('"/dev/disk/by-id/ata-EXAMPLE-part1"', '"backup.img"')
      .replaceAll('"eth2"', '"nosuch2"')
      .replaceAll('"eth1"', JSON.stringify(w.ifA))
      .replaceAll('"/var/lib/aoede"', '"state"')
      .replaceAll('"/run/aoede/aoede.sock"', '"ctl.sock"')
      // no [initiator] (a mutation could uncomment it and mount a tree on the host)
      .replace(/\n# The initiator side[\s\S]*$/, "\n");
    const next = seededUint32(o.seed);
    let refused = 0;
    let started = 0;
    const violations: ConfigFuzzFigures["violations"] = [];
    for (let n = 0; n < o.files; n++) {
      // the first file is the example itself: it must start
      const text = n === 0 ? base : mutate(base, next);
      const file = path.join(dir, `fuzz-${n}.toml`);
      fs.writeFileSync(file, text);
      // only the images and the files: anything else in the directory afterwards was made by the daemon
      for (const e of fs.readdirSync(dir)) if (!e.endsWith(".img") && !e.endsWith(".toml")) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
      const made = () => fs.readdirSync(dir).filter((e) => !e.endsWith(".img") && !e.endsWith(".toml"));
      const bad = (why: string) => {
        violations.push({ file: text, why });
        log(`config ${n}: ${why}`);
      };
      const check = Bun.spawnSync([process.execPath, MAIN, "daemon", "--check", "-c", file], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
      const checkOut = check.stdout.toString();
      if (check.exitCode !== 0 && check.exitCode !== 2) bad(`--check exited ${check.exitCode}: ${check.stderr.toString().slice(0, 300)}`);
      if (made().length > 0) bad(`--check made ${made()}`);
      const exports = Number(/OK, (\d+) exports?/.exec(checkOut)?.[1] ?? -1);
      const since = client.received.length;
      // A mount namespace of its own too, with tmpfs over /run and /var/lib: a file that
      // lost its control_socket or state_dir line falls back to /run/aoede and
      // /var/lib/aoede, which must not be the host's.
      const d = spawnAoede(
        [...w.prefix(w.nsA), "unshare", "-m", "--propagation", "private", "sh", "-c", 'mount -t tmpfs soak-run /run && mount -t tmpfs soak-lib /var/lib && exec "$@"', "sh"],
        ["daemon", "-c", file],
      );
      const deadline = Date.now() + 20_000;
      let up = false;
      while (d.proc.exitCode === null && d.proc.signalCode === null && Date.now() < deadline) {
        if (/pid \d+: \d+ exports? from /.test(d.output())) {
          up = true;
          break;
        }
        await Bun.sleep(20);
      }
      if (up) {
        started++;
        const m = /pid \d+: (\d+) exports? from /.exec(d.output())!;
        if (check.exitCode !== 0) bad(`--check refused it (${check.stderr.toString().trim()}) but the daemon started`);
        if (Number(m[1]) !== exports) bad(`started ${m[1]} exports, --check named ${exports}`);
        const at = /control socket (\S+)/.exec(d.output())?.[1];
        // (one under /run or /var/lib is in the daemon's own tmpfs, out of sight from here)
        if (!at || (at.startsWith(dir) && !fs.existsSync(at))) bad(`started without its control socket (${at})`);
        if (at && !at.startsWith(dir) && !/^\/(run|var\/lib)\//.test(at)) bad(`its control socket ${at} is outside the campaign's directory`);
        // SIGTERM at once: the daemon's handlers are in place before its start line
        // (a SIGTERM right after it exited 143 in 3 of 33 starts until they were)
        const code = await d.stop("SIGTERM", 15_000);
        if (code !== 0) bad(`SIGTERM: exit ${code}: ${d.output().slice(-500)}`);
      } else {
        const code = await d.waitExit(1000);
        if (code === 2) refused++;
        else bad(`neither started nor exited 2 (exit ${code ?? "none"}): ${d.output().slice(-500)}`);
        if (check.exitCode === 0) bad(`--check passed it but the daemon exited ${code}: ${d.output().slice(-300)}`);
        await Bun.sleep(100); // frames already sent are in the client's buffer by now
        const frames = fromDaemon(since);
        if (frames > 0) bad(`exited ${code} after sending ${frames} frames`);
        if (made().length > 0) bad(`exited ${code} after making ${made()}`);
      }
      d.kill();
      if (n === 0 && !up) throw new Error(`the example itself did not start:\n${d.output()}`);
    }
    log(`config fuzz: ${o.files} files, ${refused} refused with exit 2, ${started} started fully, ${violations.length} violations`);
    return { seed: o.seed, files: o.files, refused, started, violations };
  } finally {
    client.close();
    await Bun.sleep(50);
    fs.rmSync(dir, { recursive: true, force: true });
    w.dispose();
  }
}

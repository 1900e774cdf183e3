/**
 * What the packaging tests (test/ship, test/daemon/service, test/tree/packaging)
 * share: temporary directories removed after the file's tests, running a command
 * from the checkout with a clean environment, listing what install.sh left in a
 * temporary root, and an rc.d script run under a stand-in /etc/rc.subr that
 * prints what run_rc_command would run.
 */
import { afterAll } from "bun:test";
import { spawnSync } from "bun";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The checkout: install.sh and packaging/ are found from here. */
export const repo = resolve(import.meta.dir, "../..");

/** A PATH with the system's directories only: no node_modules/.bin, no user's own. */
export const cleanPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** A maker of temporary directories (mkdtemp with `prefix`), every one removed after the calling file's tests. */
export function tempDirs(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  return (prefix) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    made.push(d);
    return d;
  };
}

export interface RunOptions {
  /** default: the directory given to runIn */
  cwd?: string;
  /** default: { PATH: cleanPath } and nothing else */
  env?: Record<string, string | undefined>;
  /** milliseconds before the child is killed; default 60 s */
  timeout?: number;
}

export interface RunResult {
  code: number | null;
  out: string;
  err: string;
}

/** A runner of commands (to completion, output collected) in `cwd`, by default with a clean environment. */
export function runIn(cwd: string): (args: string[], opts?: RunOptions) => RunResult {
  return (args, opts = {}) => {
    const r = spawnSync(args, {
      cwd: opts.cwd ?? cwd,
      env: opts.env ?? { PATH: cleanPath },
      stdout: "pipe",
      stderr: "pipe",
      timeout: opts.timeout ?? 60_000,
    });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };
}

/** Every file and directory below `dir`, as sorted paths starting with "/" relative to it. */
export function listTree(dir: string): string[] {
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

/**
 * The variables the stand-in run_rc_command prints, in the order it prints them,
 * label=value. name, pidfile, command and args always; the rest when asked for
 * (the lines the tests compare whole stay as they are).
 */
const RC_FIELDS = {
  name: "$name",
  rcvar: "$rcvar",
  pidfile: "$pidfile",
  command: "$command",
  args: "$command_args",
  precmd: "$start_precmd",
  extra: "$extra_commands",
  reload: "$reload_cmd",
} as const;
const RC_ALWAYS = ["name", "pidfile", "command", "args"] as const;
export type RcExtraField = Exclude<keyof typeof RC_FIELDS, (typeof RC_ALWAYS)[number]>;

export interface RcStandInOptions {
  /** which of packaging/freebsd/'s scripts */
  script: "aoede" | "aoede_tree";
  /** the rc.conf the stand-in's load_rc_config sources */
  rcconf: string;
  /** makes a temporary directory the caller removes later */
  tempDir: (prefix: string) => string;
  /** fields printed besides name, pidfile, command and args */
  extraFields?: RcExtraField[];
}

/**
 * A copy of packaging/freebsd/<script> that sources a stand-in rc.subr instead of
 * /etc/rc.subr (and, for aoede, calls itself at the copy's path), and a function
 * that runs it with arguments (`sh script start`, ...). The stand-in's
 * run_rc_command prints one line per call: `RUN <command> name=... pidfile=... command=... args=...`.
 */
export function rcScriptUnderStandIn(o: RcStandInOptions): (...args: string[]) => RunResult {
  const dir = o.tempDir(`aoede-rc-${o.script}-`);
  const want = new Set<string>([...RC_ALWAYS, ...(o.extraFields ?? [])]);
  const fields = Object.entries(RC_FIELDS)
    .filter(([label]) => want.has(label))
    .map(([label, value]) => `${label}=${value}`)
    .join(" ");
  writeFileSync(
    join(dir, "rc.subr"),
    `load_rc_config() { . "${dir}/rc.conf"; }
run_rc_command() { echo "RUN $1 ${fields}"; }
checkyesno() { eval "case \\\${$1} in [Yy][Ee][Ss]) return 0;; *) return 1;; esac"; }
warn() { echo "WARN $*"; }
err() { echo "ERR $2"; exit "$1"; }
`,
  );
  writeFileSync(join(dir, "rc.conf"), o.rcconf);
  const script = join(dir, o.script);
  const text = readFileSync(join(repo, "packaging/freebsd", o.script), "utf8")
    .replace(". /etc/rc.subr", `. "${dir}/rc.subr"`)
    .replace(/^_aoede_script=.*$/m, `_aoede_script="${script}"`);
  writeFileSync(script, text, { mode: 0o755 });
  const run = runIn(repo);
  return (...args) => run(["sh", script, ...args]);
}

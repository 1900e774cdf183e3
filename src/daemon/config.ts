/**
 * The daemon's config file (TOML, default /etc/aoede/aoede.toml): every export
 * of the machine, with `aoede serve`'s options under their own names.
 *
 *   [defaults]          interfaces, bufcnt, direct, sync, tag_tracking, state_dir, control_socket
 *   [export.NAME]       path, shelf, slot, interfaces, read_only, direct, sync, offset, length,
 *                       bufcnt, macs, model, serial, tag_tracking
 *   [initiator]         interfaces, autodiscover, mountpoint
 *
 * The whole file is checked before anything is used: every mistake (unknown key,
 * wrong type, value out of range, bad MAC, missing or duplicate shelf.slot, a path
 * that is not there) becomes one line `FILE:LINE: KEY: what is wrong`, and a file
 * with any mistake is refused whole (ConfigError). Checking opens nothing: paths
 * are looked at with stat(2) only.
 */
import fs from "node:fs";
import path from "node:path";
import { parseMac } from "../aoe/index.ts";
import { macKey } from "../target/access.ts";
import { DEFAULT_BUFCNT, type ServeConfig } from "../target/config.ts";
import type { TagTrackingMode } from "../target/tags.ts";
import { syntaxErrorLine, TomlLines } from "./toml-lines.ts";

export const DEFAULT_CONFIG_FILE = "/etc/aoede/aoede.toml";
export const DEFAULT_CONTROL_SOCKET = "/run/aoede/aoede.sock";
export const DEFAULT_STATE_DIR = "/var/lib/aoede";

/** One export: serve's options (ServeConfig without its one netif) plus its name and interfaces. */
export interface ExportSettings extends Omit<ServeConfig, "netif" | "stateDir"> {
  /** the NAME of [export.NAME]: logs, `aoede ctl show-mask NAME`, `aoede top NAME` */
  name: string;
  /** interface names or glob patterns (`eth*`, `vlan?`) */
  interfaces: string[];
}

export interface DefaultSettings {
  interfaces: string[];
  bufcnt: number;
  direct: boolean;
  sync: boolean;
  tagTracking: TagTrackingMode;
  /** config string, Mac Mask list and reservation per export, as `serve --state-dir` keeps them */
  stateDir: string;
  controlSocket: string;
}

export interface InitiatorSettings {
  interfaces: string[];
  autodiscover: boolean;
  mountpoint: string | undefined;
}

export interface DaemonConfig {
  /** the file it came from */
  file: string;
  defaults: DefaultSettings;
  /** in the order of the file */
  exports: ExportSettings[];
  initiator: InitiatorSettings | undefined;
}

export interface ConfigProblem {
  file: string;
  line: number;
  /** dotted key: `export.disk0.shelf`, `defaults`, `export.disk0` */
  key: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  // line 0: about the file as a whole (it cannot be read)
  return `${p.file}${p.line > 0 ? `:${p.line}` : ""}: ${p.key}: ${p.message}`;
}

/** A config file that cannot be used; `problems` has one entry per mistake. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join("\n"));
  }
}

type Kind = "string" | "boolean" | "integer" | "strings";

interface KeySpec {
  kind: Kind;
  min?: number;
  max?: number;
  check?: (v: never) => string | undefined;
}

const identifyText = (max: number) => (v: string) =>
  !/^[\x20-\x7e]*$/.test(v)
    ? "must be printable ASCII"
    : v.length > max
      ? `is limited to ${max} characters by IDENTIFY DEVICE, "${v}" has ${v.length}`
      : undefined;

const tagTracking = (v: string) =>
  v === "off" || v === "rx" || v === "write" || v === "both" ? undefined : `takes "off", "rx", "write" or "both", not "${v}"`;

const nonEmpty = (v: string) => (v === "" ? "must not be empty" : undefined);

/**
 * A path the kernel will take: not empty, no NUL, no name over NAME_MAX (255 bytes)
 * and at most PATH_MAX - 1 (4095) bytes. Found by the soak campaign's config fuzz: a
 * 300-character state_dir passed --check and then failed at mkdir (ENAMETOOLONG).
 */
const fsPath = (v: string) => {
  if (v === "") return "must not be empty";
  if (v.includes("\0")) return "must not contain a NUL character";
  if (Buffer.byteLength(v) > 4095) return `is ${Buffer.byteLength(v)} bytes long; a path holds at most 4095`;
  const long = v.split("/").find((part) => Buffer.byteLength(part) > 255);
  if (long !== undefined) return `has a name of ${Buffer.byteLength(long)} bytes ("${long.slice(0, 20)}..."); a file name holds at most 255`;
  return undefined;
};

/** sun_path holds 108 bytes on Linux and 104 on FreeBSD, with the final NUL. */
export const MAX_SOCKET_PATH = 103;

/** Interface names or patterns: what an interface name may hold, plus the glob characters * ? [ ]. */
const interfacePatterns = (v: string[]) => {
  for (const p of v) {
    if (!/^[A-Za-z0-9_.:@*?\[\]-]{1,15}$/.test(p)) return `"${p}" is not an interface name or pattern (at most 15 characters of letters, digits, _ . : @ - and * ? [ ])`;
  }
  return undefined;
};

const macList = (v: string[]) => {
  for (const m of v) {
    try {
      parseMac(m);
    } catch (e) {
      return `"${m}" is not a MAC address (${(e as Error).message}); write it as 52:54:00:12:34:56`;
    }
  }
  if (v.length > 32) return `holds ${v.length} MACs; the Mac Mask list holds at most 32`;
  return undefined;
};

const COMMON: Record<string, KeySpec> = {
  interfaces: { kind: "strings", check: interfacePatterns },
  bufcnt: { kind: "integer", min: 1, max: 0xffff },
  direct: { kind: "boolean" },
  sync: { kind: "boolean" },
  tag_tracking: { kind: "string", check: tagTracking },
};

const DEFAULTS_KEYS: Record<string, KeySpec> = {
  ...COMMON,
  state_dir: { kind: "string", check: fsPath },
  control_socket: { kind: "string", check: fsPath },
};

const EXPORT_KEYS: Record<string, KeySpec> = {
  ...COMMON,
  path: { kind: "string", check: fsPath },
  // 0xFFFF and 0xFF are the broadcast addresses: no target may have them
  shelf: { kind: "integer", min: 0, max: 0xfffe },
  slot: { kind: "integer", min: 0, max: 0xfe },
  read_only: { kind: "boolean" },
  offset: { kind: "integer", min: 0, max: Number.MAX_SAFE_INTEGER },
  length: { kind: "integer", min: 1, max: Number.MAX_SAFE_INTEGER },
  macs: { kind: "strings", check: macList },
  model: { kind: "string", check: identifyText(40) },
  serial: { kind: "string", check: identifyText(20) },
};

const INITIATOR_KEYS: Record<string, KeySpec> = {
  interfaces: { kind: "strings", check: interfacePatterns },
  autodiscover: { kind: "boolean" },
  mountpoint: { kind: "string", check: fsPath },
};

const TOP_LEVEL = ["defaults", "export", "initiator"];

function typeName(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v === null) return "nan/inf";
  if (typeof v === "object") return "a table";
  if (typeof v === "number") return Number.isInteger(v) ? "an integer" : "a float";
  return `a ${typeof v}`;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks one table against its key specs; returns the values that passed. */
class Checker {
  readonly problems: ConfigProblem[] = [];
  constructor(
    private readonly file: string,
    private readonly lines: TomlLines,
  ) {}

  problem(table: string[], key: string | undefined, message: string): void {
    this.problems.push({
      file: this.file,
      line: this.lines.lineOf(table, key),
      key: [...table, ...(key === undefined ? [] : [key])].join("."),
      message,
    });
  }

  table(tablePath: string[], value: Record<string, unknown>, specs: Record<string, KeySpec>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const spec = specs[key];
      if (spec === undefined) {
        const known = Object.keys(specs).join(", ");
        this.problem(tablePath, key, `unknown key (known here: ${known})`);
        continue;
      }
      const bad = checkValue(spec, v);
      if (bad !== undefined) {
        this.problem(tablePath, key, bad);
        continue;
      }
      out[key] = typeof v === "string" && spec.kind === "strings" ? [v] : v;
    }
    return out;
  }
}

function checkValue(spec: KeySpec, v: unknown): string | undefined {
  switch (spec.kind) {
    case "string":
      if (typeof v !== "string") return `must be a string, not ${typeName(v)}`;
      break;
    case "boolean":
      if (typeof v !== "boolean") return `must be true or false, not ${typeName(v)}`;
      break;
    case "integer":
      if (typeof v !== "number" || !Number.isInteger(v)) return `must be a whole number, not ${typeName(v)}`;
      if (v < spec.min! || v > spec.max!) return `must be between ${spec.min} and ${spec.max}, not ${v}`;
      break;
    case "strings": {
      // one string is a list of one
      const list = typeof v === "string" ? [v] : v;
      if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) {
        return `must be a string or an array of strings, not ${typeName(v)}`;
      }
      if (list.length === 0) return "must not be empty";
      return spec.check?.(list as never);
    }
  }
  return spec.check?.(v as never);
}

/**
 * Parse and check a config file's text; `file` names it in messages and relative
 * paths are taken from its directory. Throws ConfigError listing every mistake.
 * `checkPaths: false` skips looking at the exported files (unit tests of the syntax).
 */
export function parseDaemonConfig(text: string, file: string, opts: { checkPaths?: boolean } = {}): DaemonConfig {
  let raw: unknown;
  try {
    raw = Bun.TOML.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    throw new ConfigError([
      { file, line: syntaxErrorLine(text, message), key: "(syntax)", message: message.replace(/^TOML Parse error: /, "") },
    ]);
  }
  const lines = new TomlLines(text);
  const c = new Checker(file, lines);
  const top = raw as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (!TOP_LEVEL.includes(key)) c.problem([], key, `unknown ${isTable(top[key]) ? "table" : "key"} (known: [defaults], [export.NAME], [initiator])`);
  }
  const tableAt = (key: string): Record<string, unknown> | undefined => {
    const v = top[key];
    if (v === undefined) return undefined;
    if (!isTable(v)) {
      c.problem([], key, `must be a table ([${key}]), not ${typeName(v)}`);
      return undefined;
    }
    return v;
  };

  const d = c.table(["defaults"], tableAt("defaults") ?? {}, DEFAULTS_KEYS);
  const base = path.dirname(path.resolve(file));
  const defaults: DefaultSettings = {
    interfaces: (d.interfaces as string[] | undefined) ?? [],
    bufcnt: (d.bufcnt as number | undefined) ?? DEFAULT_BUFCNT,
    direct: (d.direct as boolean | undefined) ?? false,
    sync: (d.sync as boolean | undefined) ?? false,
    tagTracking: (d.tag_tracking as TagTrackingMode | undefined) ?? "off",
    stateDir: path.resolve(base, (d.state_dir as string | undefined) ?? DEFAULT_STATE_DIR),
    controlSocket: path.resolve(base, (d.control_socket as string | undefined) ?? DEFAULT_CONTROL_SOCKET),
  };
  if (Buffer.byteLength(defaults.controlSocket) > MAX_SOCKET_PATH) {
    c.problem(["defaults"], "control_socket", `${defaults.controlSocket} is ${Buffer.byteLength(defaults.controlSocket)} bytes; a unix socket path holds at most ${MAX_SOCKET_PATH}: choose a shorter one`);
  }

  const exports: ExportSettings[] = [];
  const byAddress = new Map<string, string>();
  const exportTables = tableAt("export") ?? {};
  for (const [name, value] of Object.entries(exportTables)) {
    const where = ["export", name];
    if (!isTable(value)) {
      c.problem(["export"], name, `must be a table ([export.${name}]), not ${typeName(value)}`);
      continue;
    }
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      c.problem(where, undefined, "export names are 1-64 letters, digits, _ . or -");
      continue;
    }
    const before = c.problems.length;
    const e = c.table(where, value, EXPORT_KEYS);
    for (const required of ["path", "shelf", "slot"]) {
      if (value[required] === undefined) c.problem(where, undefined, `${required} is missing (every export needs path, shelf and slot)`);
    }
    const interfaces = (e.interfaces as string[] | undefined) ?? defaults.interfaces;
    if (value.interfaces === undefined && defaults.interfaces.length === 0) {
      c.problem(where, undefined, "interfaces is missing: give interfaces here or in [defaults]");
    }
    if (c.problems.length !== before) continue;
    const filePath = path.resolve(base, e.path as string);
    if (opts.checkPaths !== false) {
      const bad = pathProblem(filePath);
      if (bad !== undefined) {
        c.problem(where, "path", bad);
        continue;
      }
    }
    const address = `${e.shelf}.${e.slot}`;
    const other = byAddress.get(address);
    if (other !== undefined) {
      c.problem(where, "shelf", `e${address} is also [export.${other}]: each shelf.slot may be exported once`);
      continue;
    }
    byAddress.set(address, name);
    exports.push({
      name,
      shelf: e.shelf as number,
      slot: e.slot as number,
      file: filePath,
      interfaces,
      bufcnt: (e.bufcnt as number | undefined) ?? defaults.bufcnt,
      direct: (e.direct as boolean | undefined) ?? defaults.direct,
      sync: (e.sync as boolean | undefined) ?? defaults.sync,
      readOnly: (e.read_only as boolean | undefined) ?? false,
      macs: (e.macs as string[] | undefined)?.map((m) => macKey(parseMac(m))),
      offset: (e.offset as number | undefined) ?? 0,
      length: e.length as number | undefined,
      tagTracking: (e.tag_tracking as TagTrackingMode | undefined) ?? defaults.tagTracking,
      model: e.model as string | undefined,
      serial: e.serial as string | undefined,
    });
  }

  let initiator: InitiatorSettings | undefined;
  const ini = tableAt("initiator");
  if (ini !== undefined) {
    const i = c.table(["initiator"], ini, INITIATOR_KEYS);
    initiator = {
      interfaces: (i.interfaces as string[] | undefined) ?? defaults.interfaces,
      autodiscover: (i.autodiscover as boolean | undefined) ?? true,
      mountpoint: i.mountpoint === undefined ? undefined : path.resolve(base, i.mountpoint as string),
    };
  }
  if (c.problems.length > 0) throw new ConfigError(c.problems);
  return { file, defaults, exports, initiator };
}

function pathProblem(p: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? `${p} does not exist` : `cannot look at ${p}: ${(e as Error).message}`;
  }
  if (!st.isFile() && !st.isBlockDevice()) return `${p} is neither a regular file nor a block device`;
  return undefined;
}

/** Read and check a config file; a file that cannot be read is a ConfigError too. */
export function loadDaemonConfig(file: string): DaemonConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file (write one: see /etc/aoede/aoede.toml.sample)" : (e as Error).message;
    throw new ConfigError([{ file, line: 0, key: "(file)", message: why }]);
  }
  return parseDaemonConfig(text, file);
}

/** Shell-style glob (`*`, `?`, `[...]`) to a whole-name RegExp. */
export function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === "*") re += ".*";
    else if (ch === "?") re += ".";
    else if (ch === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Does interface `name` match one of `patterns`? */
export function matchesInterface(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => p === name || globToRegExp(p).test(name));
}

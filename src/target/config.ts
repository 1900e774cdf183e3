/**
 * `aoede serve` options: vblade's command line, unchanged, plus AoEde's own long
 * options. Parsed here rather than by citty because vblade's is a getopt command
 * line: short options cluster (-rd), take their value attached or separate (-b64,
 * -b 64), and may come after the operands (GNU getopt permutes); `--` ends options.
 *
 *   vblade [-b bufcnt] [-o offset] [-l length] [-d] [-s] [-r] [-m mac[,mac...]] shelf slot netif filename
 */
import { parseMac } from "../aoe/index.ts";
import { macKey } from "./access.ts";
import type { TagTrackingMode } from "./tags.ts";

export interface ServeConfig {
  shelf: number;
  slot: number;
  netif: string;
  file: string;
  /** -b: advertised buffer count, and the most requests at the storage at once */
  bufcnt: number;
  /** -d: O_DIRECT */
  direct: boolean;
  /** -s: O_SYNC */
  sync: boolean;
  /** -r */
  readOnly: boolean;
  /** -m: the initial Mac Mask list (48-bit keys); undefined when not given */
  macs: number[] | undefined;
  /** -o: sectors skipped at the start of the file */
  offset: number;
  /** -l: sectors exported; undefined = the rest of the file */
  length: number | undefined;
  stateDir: string | undefined;
  tagTracking: TagTrackingMode;
  model: string | undefined;
  serial: string | undefined;
}

export const DEFAULT_BUFCNT = 16;

export const USAGE =
  "aoede serve [-b bufcnt] [-o offset] [-l length] [-d] [-s] [-r] [-m mac[,mac...]] " +
  "[--state-dir dir] [--tag-tracking rx|write|both] [--model text] [--serial text] shelf slot netif file";

/** A command-line mistake: exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

type Key = "bufcnt" | "direct" | "sync" | "readOnly" | "macs" | "offset" | "length" | "stateDir" | "tagTracking" | "model" | "serial";

interface OptionSpec {
  key: Key;
  takesValue: boolean;
}

const SHORT: Record<string, OptionSpec> = {
  b: { key: "bufcnt", takesValue: true },
  d: { key: "direct", takesValue: false },
  s: { key: "sync", takesValue: false },
  r: { key: "readOnly", takesValue: false },
  m: { key: "macs", takesValue: true },
  o: { key: "offset", takesValue: true },
  l: { key: "length", takesValue: true },
};

const LONG: Record<string, OptionSpec> = {
  bufcnt: SHORT.b!,
  direct: SHORT.d!,
  sync: SHORT.s!,
  "read-only": SHORT.r!,
  readonly: SHORT.r!,
  mac: SHORT.m!,
  macs: SHORT.m!,
  offset: SHORT.o!,
  length: SHORT.l!,
  "state-dir": { key: "stateDir", takesValue: true },
  "tag-tracking": { key: "tagTracking", takesValue: true },
  model: { key: "model", takesValue: true },
  serial: { key: "serial", takesValue: true },
};

/** A non-negative decimal integer no larger than max. */
function integer(what: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} must be a whole number, not "${text}"`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${what} must be between ${min} and ${max}, not ${text}`);
  return n;
}

/** Printable ASCII no longer than the IDENTIFY field. */
function identifyText(what: string, text: string, max: number): string {
  if (!/^[\x20-\x7e]*$/.test(text)) throw new UsageError(`${what} must be printable ASCII`);
  if (text.length > max) throw new UsageError(`${what} is limited to ${max} characters by IDENTIFY DEVICE, "${text}" has ${text.length}`);
  return text;
}

function setOption(out: Partial<ServeConfig>, spec: OptionSpec, name: string, value: string | undefined): void {
  const v = value ?? "";
  switch (spec.key) {
    case "bufcnt":
      out.bufcnt = integer(`${name} (buffer count)`, v, 1, 0xffff);
      break;
    case "direct":
    case "sync":
    case "readOnly":
      out[spec.key] = true;
      break;
    case "macs": {
      const list = v.split(",").filter((s) => s.trim() !== "");
      if (list.length === 0) throw new UsageError(`${name} needs at least one MAC address`);
      out.macs ??= [];
      for (const m of list) {
        try {
          out.macs.push(macKey(parseMac(m)));
        } catch (e) {
          throw new UsageError(`${name}: ${(e as Error).message}`);
        }
      }
      break;
    }
    case "offset":
      out.offset = integer(`${name} (offset in sectors)`, v, 0, Number.MAX_SAFE_INTEGER);
      break;
    case "length":
      out.length = integer(`${name} (length in sectors)`, v, 1, Number.MAX_SAFE_INTEGER);
      break;
    case "stateDir":
      if (v === "") throw new UsageError(`${name} needs a directory`);
      out.stateDir = v;
      break;
    case "tagTracking":
      if (v !== "rx" && v !== "write" && v !== "both" && v !== "off") {
        throw new UsageError(`${name} takes rx, write or both, not "${v}"`);
      }
      out.tagTracking = v;
      break;
    case "model":
      out.model = identifyText(`${name}`, v, 40);
      break;
    case "serial":
      out.serial = identifyText(`${name}`, v, 20);
      break;
  }
}

/** Parse `aoede serve`'s arguments (after the word "serve"). Throws UsageError. */
export function parseServeArgs(argv: readonly string[]): ServeConfig {
  const opts: Partial<ServeConfig> = {};
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = LONG[name];
      if (spec === undefined) throw new UsageError(`unknown option --${name}`);
      let value: string | undefined;
      if (spec.takesValue) {
        if (eq >= 0) value = arg.slice(eq + 1);
        else if (i + 1 < argv.length) value = argv[++i];
        else throw new UsageError(`option --${name} needs a value`);
      } else if (eq >= 0) {
        throw new UsageError(`option --${name} takes no value`);
      }
      setOption(opts, spec, `--${name}`, value);
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // a getopt cluster: -rd, -b64, -rb 64
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j]!;
        const spec = SHORT[letter];
        if (spec === undefined) throw new UsageError(`unknown option -${letter}`);
        if (!spec.takesValue) {
          setOption(opts, spec, `-${letter}`, undefined);
          continue;
        }
        let value: string;
        if (j + 1 < arg.length) value = arg.slice(j + 1);
        else if (i + 1 < argv.length) value = argv[++i]!;
        else throw new UsageError(`option -${letter} needs a value`);
        setOption(opts, spec, `-${letter}`, value);
        break;
      }
      continue;
    }
    operands.push(arg);
  }
  const names = ["shelf", "slot", "netif", "file"];
  if (operands.length < 4) throw new UsageError(`missing ${names.slice(operands.length).join(", ")}`);
  if (operands.length > 4) throw new UsageError(`unexpected argument "${operands[4]}"`);
  const [shelf, slot, netif, file] = operands as [string, string, string, string];
  if (netif === "") throw new UsageError("netif must name a network interface");
  if (file === "") throw new UsageError("file must name a file or block device");
  return {
    // 0xFFFF and 0xFF are the broadcast addresses: no target may have them
    shelf: integer("shelf", shelf, 0, 0xfffe),
    slot: integer("slot", slot, 0, 0xfe),
    netif,
    file,
    bufcnt: opts.bufcnt ?? DEFAULT_BUFCNT,
    direct: opts.direct ?? false,
    sync: opts.sync ?? false,
    readOnly: opts.readOnly ?? false,
    macs: opts.macs,
    offset: opts.offset ?? 0,
    length: opts.length,
    stateDir: opts.stateDir,
    tagTracking: opts.tagTracking ?? "off",
    model: opts.model,
    serial: opts.serial,
  };
}

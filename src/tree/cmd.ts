/**
 * Plan 9's control-message parsing (port/parse.c parsecmd, lookupcmd,
 * cmderror) and devaoe's helpers (toggle, strtoss), with Plan 9's error
 * strings: the text of a failed ctl write is an interface too.
 */

/** A ctl write Plan 9 refuses: `message` is Plan 9's error string. */
export class CmdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CmdError";
  }
}

export const E_CMDARGS = "wrong #args in control message";

/**
 * parsecmd: a trailing newline dropped, then fields split at blanks, with
 * tokenize's quoting ('a b' is one field, '' inside quotes is a quote).
 */
export function parseCmd(text: string): string[] {
  let s = text;
  if (s.endsWith("\n")) s = s.slice(0, -1);
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /[ \t\r\n]/.test(s[i]!)) i++;
    if (i >= s.length) break;
    let field = "";
    let quoted = false;
    while (i < s.length && (quoted || !/[ \t\r\n]/.test(s[i]!))) {
      const c = s[i]!;
      if (c === "'") {
        if (quoted && s[i + 1] === "'") {
          field += "'";
          i += 2;
          continue;
        }
        quoted = !quoted;
        i++;
        continue;
      }
      field += c;
      i++;
    }
    out.push(field);
  }
  return out;
}

/** Plan 9's %q: a field with blanks or quotes is quoted, quotes doubled. */
function quote(f: string): string {
  return f === "" || /[ \t\n'`]/.test(f) ? `'${f.replace(/'/g, "''")}'` : f;
}

/** cmderror: `<why> "<the fields>"`. */
export function cmdError(fields: readonly string[], why: string): CmdError {
  return new CmdError(`${why} "${fields.map(quote).join(" ")}"`);
}

export interface CmdSpec {
  name: string;
  /** fields including the verb; 0: any number */
  narg: number;
}

/** lookupcmd: the verb's spec, or Plan 9's error. */
export function lookupCmd<T extends CmdSpec>(fields: readonly string[], table: readonly T[]): T {
  if (fields.length === 0) throw new CmdError("empty control message");
  for (const c of table) {
    if (c.name !== fields[0]) continue;
    if (c.narg !== 0 && c.narg !== fields.length) throw cmdError(fields, E_CMDARGS);
    return c;
  }
  throw cmdError(fields, "unknown control message");
}

/** devaoe's toggle: no argument flips, "on" sets, any other word clears. */
export function toggle(arg: string | undefined, value: boolean): boolean {
  if (arg === undefined) return !value;
  return arg === "on";
}

/**
 * C's strtol/strtoul with base 0 over the start of `s`: 0x hex, leading-0
 * octal, else decimal. `end` is where the number stopped (the start when
 * there were no digits).
 */
export function strtol(s: string, at = 0): { value: number; end: number } {
  let i = at;
  while (i < s.length && /\s/.test(s[i]!)) i++;
  let sign = 1;
  if (s[i] === "+" || s[i] === "-") {
    if (s[i] === "-") sign = -1;
    i++;
  }
  let base = 10;
  if (s[i] === "0" && (s[i + 1] === "x" || s[i + 1] === "X") && /[0-9a-f]/i.test(s[i + 2] ?? "")) {
    base = 16;
    i += 2;
  } else if (s[i] === "0") base = 8;
  const start = i;
  let v = 0;
  for (; i < s.length; i++) {
    const d = parseInt(s[i]!, base);
    if (Number.isNaN(d)) break;
    v = v * base + d;
  }
  if (i === start) return { value: 0, end: at };
  return { value: sign * v, end: i };
}

/** devaoe's strtoss: "S" (slot 0xff: all) or "S.L"; none: 0xffff.0xff. */
export function strtoss(f: string | undefined): { shelf: number; slot: number } {
  if (f === undefined) return { shelf: 0xffff, slot: 0xff };
  const a = strtol(f);
  if (a.end === 0 || a.value < 0 || a.value > 0xffff) throw new CmdError("bad shelf");
  let slot = 0xff;
  if (f[a.end] === ".") {
    const b = strtol(f, a.end + 1);
    if (b.end === a.end + 1 || b.value < 0 || b.value > 0xff) throw new CmdError("bad slot");
    slot = b.value;
  }
  return { shelf: a.value, slot };
}

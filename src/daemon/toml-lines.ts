/**
 * Where a key sits in a TOML text. Bun.TOML.parse returns plain values with no
 * positions (and its SyntaxError's `line` is a line of Bun's own source), so error
 * messages find their line by scanning the text: the `[table]` header, then the
 * `key =` line inside that table. Good enough for a config file written by hand;
 * anything unusual (inline tables, dotted keys) falls back to the table's header.
 */

/** The dotted path of a table header's name: `export."disk 0"` → ["export", "disk 0"]. */
export function splitDottedKey(text: string): string[] | undefined {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i <= s.length) {
    while (s[i] === " " || s[i] === "\t") i++;
    let part: string;
    if (s[i] === '"' || s[i] === "'") {
      const q = s[i]!;
      const end = s.indexOf(q, i + 1);
      if (end < 0) return undefined;
      part = s.slice(i + 1, end);
      i = end + 1;
    } else {
      const m = /^[A-Za-z0-9_-]+/.exec(s.slice(i));
      if (!m) return undefined;
      part = m[0];
      i += part.length;
    }
    parts.push(part);
    while (s[i] === " " || s[i] === "\t") i++;
    if (i >= s.length) return parts;
    if (s[i] !== ".") return undefined;
    i++;
  }
  return parts;
}

interface Table {
  path: string[];
  /** 1-based line of the header */
  line: number;
  /** key → 1-based line, first occurrence */
  keys: Map<string, number>;
}

const HEADER = /^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$/;
const KEY = /^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*[.=]/;

/** An index of a TOML text's table headers and keys, by line. */
export class TomlLines {
  private readonly tables: Table[] = [];

  constructor(text: string) {
    let current: Table = { path: [], line: 1, keys: new Map() };
    this.tables.push(current);
    const lines = text.split("\n");
    let inMultiline: string | undefined;
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n]!;
      if (inMultiline !== undefined) {
        if (line.includes(inMultiline)) inMultiline = undefined;
        continue;
      }
      const h = HEADER.exec(line);
      if (h) {
        const path = splitDottedKey(h[1]!);
        if (path) {
          current = { path, line: n + 1, keys: new Map() };
          this.tables.push(current);
        }
        continue;
      }
      const k = KEY.exec(line);
      if (k) {
        let key = k[1]!;
        if (key.startsWith('"') || key.startsWith("'")) key = key.slice(1, -1);
        if (!current.keys.has(key)) current.keys.set(key, n + 1);
        // a multi-line string starting here: skip its body (it may hold "[x]" or "k =")
        const rest = line.slice(k[0].length);
        for (const q of ['"""', "'''"]) {
          const at = rest.indexOf(q);
          if (at >= 0 && rest.indexOf(q, at + 3) < 0) inMultiline = q;
        }
      }
    }
  }

  /** Line of `key` in the table `table` (its header when the key is not found; 1 when neither is). */
  lineOf(table: readonly string[], key?: string): number {
    const t = this.tables.find((x) => x.path.length === table.length && x.path.every((p, i) => p === table[i]));
    if (!t) {
      // a key given as a dotted key or inline table in a parent table: `export.d0.path = ...`
      if (table.length > 0) return this.lineOf(table.slice(0, -1), table[table.length - 1]);
      return 1;
    }
    if (key === undefined) return t.line;
    const own = t.keys.get(key);
    if (own !== undefined) return own;
    // not a key of this table: a table of its own ([acls] under the root)
    const sub = this.tables.find((x) => x.path.length === table.length + 1 && x.path[table.length] === key && table.every((p, i) => x.path[i] === p));
    return sub?.line ?? t.line;
  }
}

/**
 * The line a TOML syntax error is on: the shortest prefix of the text that fails
 * with the same message (a prefix that ends before the mistake parses, or fails
 * only for being cut short, with another message); failing that, the first line
 * from which every longer prefix fails too.
 */
export function syntaxErrorLine(text: string, message: string): number {
  const lines = text.split("\n");
  if (lines.length > 5000) return 1;
  const fails = (k: number): string | undefined => {
    try {
      Bun.TOML.parse(lines.slice(0, k).join("\n") + "\n");
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  const results: (string | undefined)[] = [];
  for (let k = 1; k <= lines.length; k++) {
    const m = fails(k);
    if (m === message) return k;
    results.push(m);
  }
  let line = lines.length;
  for (let k = lines.length; k >= 1 && results[k - 1] !== undefined; k--) line = k;
  return line;
}

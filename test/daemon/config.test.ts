/**
 * The daemon's config file: a good file and what it means, one table row per kind
 * of mistake (the message names FILE:LINE and the key), and a seeded fuzz test:
 * random mutations of the shipped example either parse or throw ConfigError,
 * nothing else. DAEMON_FUZZ_SEED=<n> replays a run.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ConfigError, globToRegExp, matchesInterface, parseDaemonConfig, type ConfigProblem } from "../../src/daemon/config.ts";
import { seededUint32 } from "../helpers/prng.ts";
import { makeImage } from "../helpers/vblade.ts";

// A 1 MiB image for the exports' paths; the state directory and control socket go beside it.
const image = makeImage(1 << 20);
const { dir, path: img } = image;
afterAll(() => image.dispose());

function problems(text: string): ConfigProblem[] {
  try {
    parseDaemonConfig(text, "/etc/aoede/t.toml");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

const good = () => `# comment
[defaults]
interfaces = ["eth*"]
bufcnt = 32
state_dir = "${dir}/state"
control_socket = "${dir}/ctl.sock"

[export.a]
path = "${img}"
shelf = 9
slot = 0

[export."b-1"]
path = "${img}"
shelf = 9
slot = 1
interfaces = "veth0"
read_only = true
macs = ["52:54:00:12:34:56"]
offset = 8
length = 100
model = "M"
serial = "S"
tag_tracking = "both"
direct = true
sync = true
bufcnt = 4

[initiator]
autodiscover = true
mountpoint = "/n/aoe"
`;

describe("a good file", () => {
  test("defaults, exports in file order, inheritance", () => {
    const c = parseDaemonConfig(good(), path.join(dir, "x.toml"));
    expect(c.defaults).toEqual({
      interfaces: ["eth*"],
      bufcnt: 32,
      direct: false,
      sync: false,
      tagTracking: "off",
      stateDir: `${dir}/state`,
      controlSocket: `${dir}/ctl.sock`,
    });
    expect(c.exports.map((e) => e.name)).toEqual(["a", "b-1"]);
    const [a, b] = c.exports;
    expect(a).toMatchObject({ shelf: 9, slot: 0, file: img, interfaces: ["eth*"], bufcnt: 32, readOnly: false, macs: undefined, offset: 0 });
    expect(b).toMatchObject({
      shelf: 9,
      slot: 1,
      interfaces: ["veth0"],
      readOnly: true,
      macs: [0x525400123456],
      offset: 8,
      length: 100,
      model: "M",
      serial: "S",
      tagTracking: "both",
      direct: true,
      sync: true,
      bufcnt: 4,
    });
    expect(c.initiator).toEqual({ interfaces: ["eth*"], autodiscover: true, mountpoint: "/n/aoe" });
  });

  test("relative paths are taken from the file's directory", () => {
    const c = parseDaemonConfig(`[defaults]\ninterfaces="e"\nstate_dir="st"\n[export.a]\npath="disk.img"\nshelf=1\nslot=1\n`, path.join(dir, "x.toml"));
    expect(c.exports[0]!.file).toBe(img);
    expect(c.defaults.stateDir).toBe(path.join(dir, "st"));
  });

  test("the shipped example parses (its paths aside)", () => {
    const text = readFileSync(path.join(import.meta.dir, "../../packaging/aoede.toml.example"), "utf8");
    const c = parseDaemonConfig(text, "aoede.toml", { checkPaths: false });
    expect(c.exports.map((e) => `${e.name} e${e.shelf}.${e.slot}`)).toEqual(["disk0 e9.0", "backup e9.1"]);
    expect(c.exports[1]!.macs).toHaveLength(2);
  });

  test("globs", () => {
    expect(matchesInterface(["eth*"], "eth10")).toBe(true);
    expect(matchesInterface(["eth?"], "eth10")).toBe(false);
    expect(matchesInterface(["vlan[0-3]"], "vlan2")).toBe(true);
    expect(matchesInterface(["vlan[!0-3]"], "vlan2")).toBe(false);
    expect(matchesInterface(["a.b"], "aXb")).toBe(false);
    expect(globToRegExp("x[").test("x[")).toBe(true);
  });
});

// Each row: a file with one mistake; the one problem's line, key and words.
const ok = (extra = "") => `[defaults]\ninterfaces = ["e0"]\n[export.a]\npath = "IMG"\nshelf = 1\nslot = 2\n${extra}`;
const rows: { what: string; text: string; line: number; key: string; says: RegExp }[] = [
  { what: "unknown key in an export", text: ok("bogus = 1\n"), line: 7, key: "export.a.bogus", says: /unknown key/ },
  { what: "unknown key in defaults", text: `[defaults]\ninterfaces = ["e0"]\nqueue-length = 4\n`, line: 3, key: "defaults.queue-length", says: /unknown key/ },
  { what: "unknown table", text: ok("[acls]\nx = 1\n"), line: 7, key: "acls", says: /unknown table/ },
  { what: "unknown top-level key", text: `verbose = true\n` + ok(), line: 1, key: "verbose", says: /unknown key/ },
  { what: "unknown key in initiator", text: ok("[initiator]\n\nmount = '/x'\n"), line: 9, key: "initiator.mount", says: /unknown key/ },
  {
    what: "duplicate shelf.slot",
    text: ok("[export.b]\npath = \"IMG\"\nslot = 2\nshelf = 1\n"),
    line: 10,
    key: "export.b.shelf",
    says: /e1\.2 is also \[export\.a\]/,
  },
  { what: "missing path", text: `[defaults]\ninterfaces = ["e0"]\n\n[export.a]\nshelf = 1\nslot = 2\n`, line: 4, key: "export.a", says: /path is missing/ },
  { what: "missing shelf", text: `[defaults]\ninterfaces = ["e0"]\n[export.a]\npath = "IMG"\nslot = 2\n`, line: 3, key: "export.a", says: /shelf is missing/ },
  { what: "path not there", text: ok().replace("IMG", "/nonexistent/x.img"), line: 4, key: "export.a.path", says: /does not exist/ },
  { what: "path a directory", text: ok().replace("IMG", "/tmp"), line: 4, key: "export.a.path", says: /neither a regular file nor a block device/ },
  { what: "bad MAC", text: ok('macs = ["52:54:00:12:34"]\n'), line: 7, key: "export.a.macs", says: /not a MAC address/ },
  { what: "string for an integer", text: ok().replace("shelf = 1", 'shelf = "1"'), line: 5, key: "export.a.shelf", says: /whole number, not a string/ },
  { what: "float for an integer", text: ok("bufcnt = 1.5\n"), line: 7, key: "export.a.bufcnt", says: /whole number, not a float/ },
  { what: "integer for a boolean", text: ok("read_only = 1\n"), line: 7, key: "export.a.read_only", says: /true or false/ },
  { what: "table for a list", text: ok("interfaces = { a = 1 }\n"), line: 7, key: "export.a.interfaces", says: /array of strings/ },
  { what: "list of numbers", text: ok("interfaces = [1]\n"), line: 7, key: "export.a.interfaces", says: /array of strings/ },
  { what: "shelf 65535 (broadcast)", text: ok().replace("shelf = 1", "shelf = 65535"), line: 5, key: "export.a.shelf", says: /between 0 and 65534/ },
  { what: "slot 255 (broadcast)", text: ok().replace("slot = 2", "slot = 255"), line: 6, key: "export.a.slot", says: /between 0 and 254/ },
  { what: "negative slot", text: ok().replace("slot = 2", "slot = -1"), line: 6, key: "export.a.slot", says: /between 0 and 254/ },
  { what: "bufcnt 0", text: ok("bufcnt = 0\n"), line: 7, key: "export.a.bufcnt", says: /between 1 and 65535/ },
  { what: "model too long", text: ok(`model = "${"m".repeat(41)}"\n`), line: 7, key: "export.a.model", says: /limited to 40/ },
  { what: "bad tag tracking", text: ok('tag_tracking = "all"\n'), line: 7, key: "export.a.tag_tracking", says: /takes "off"/ },
  { what: "bad interface name", text: ok('interfaces = ["eth 0"]\n'), line: 7, key: "export.a.interfaces", says: /not an interface name/ },
  { what: "no interfaces anywhere", text: `[export.a]\npath = "IMG"\nshelf = 1\nslot = 2\n`, line: 1, key: "export.a", says: /interfaces is missing/ },
  { what: "bad export name", text: ok('[export."a b"]\npath = "IMG"\nshelf = 1\nslot = 3\n'), line: 7, key: "export.a b", says: /export names/ },
  { what: "export not a table", text: `[defaults]\ninterfaces = ["e0"]\n[export]\nx = 1\n`, line: 4, key: "export.x", says: /must be a table/ },
  {
    what: "state_dir with a name over 255 bytes (--check passed it, then mkdir said ENAMETOOLONG)",
    text: `[defaults]\ninterfaces = ["e0"]\nstate_dir = "/var/lib/${"s".repeat(300)}"\n`,
    line: 3,
    key: "defaults.state_dir",
    says: /a file name holds at most 255/,
  },
  {
    what: "control socket path longer than a unix socket takes",
    text: `[defaults]\ninterfaces = ["e0"]\ncontrol_socket = "/run/${"c".repeat(120)}.sock"\n`,
    line: 3,
    key: "defaults.control_socket",
    says: /unix socket path holds at most 103/,
  },
  { what: "export path over PATH_MAX", text: ok().replace("IMG", `/${"p/".repeat(2100)}x`), line: 4, key: "export.a.path", says: /at most 4095/ },
  { what: "syntax: key twice", text: ok("\nshelf = 3\n"), line: 8, key: "(syntax)", says: /redefine/ },
  { what: "syntax: no value", text: ok("bufcnt =\n\n"), line: 7, key: "(syntax)", says: /Missing value/ },
  { what: "syntax: unterminated string", text: ok('model = "abc\nserial = "x"\n'), line: 7, key: "(syntax)", says: /Unterminated string/ },
];

describe("each kind of mistake: one line naming FILE:LINE and the key", () => {
  for (const r of rows) {
    test(r.what, () => {
      const ps = problems(r.text.replaceAll("IMG", img));
      expect(ps).toHaveLength(1);
      const p = ps[0]!;
      expect({ line: p.line, key: p.key }).toEqual({ line: r.line, key: r.key });
      expect(p.message).toMatch(r.says);
      expect(p.file).toBe("/etc/aoede/t.toml");
      const msg = new ConfigError(ps).message;
      expect(msg.startsWith(`/etc/aoede/t.toml:${r.line}: ${r.key}: `)).toBe(true);
      expect(msg.split("\n")).toHaveLength(1);
    });
  }

  test("several mistakes: one line each", () => {
    const ps = problems(ok("bogus = 1\nbufcnt = 0\n").replaceAll("IMG", img));
    expect(ps.map((p) => `${p.line} ${p.key}`)).toEqual(["7 export.a.bogus", "8 export.a.bufcnt"]);
  });
});

describe("fuzz: mutations of the example", () => {
  const example = () => readFileSync(path.join(import.meta.dir, "../../packaging/aoede.toml.example"), "utf8").replace(/"\/(srv|dev)[^"]*"/g, JSON.stringify(img));
  const seed = Number(process.env.DAEMON_FUZZ_SEED ?? (Date.now() % 1e9));
  test(`only ConfigError, ever (seed ${seed})`, () => {
    const next = seededUint32(seed);
    const base = example();
    expect(() => parseDaemonConfig(base, "x.toml")).not.toThrow();
    const junk = ['"', "'", "[", "]", "=", ",", "\n", "#", "{", "}", ".", "-1", "1e9", "true", "\\", "\u00ff", "[[x]]", "0x", "nan", "'''"];
    let parsed = 0;
    let refused = 0;
    for (let n = 0; n < 2000; n++) {
      let text = base;
      const edits = 1 + (next() % 4);
      for (let k = 0; k < edits; k++) {
        const at = next() % (text.length + 1);
        switch (next() % 4) {
          case 0:
            text = text.slice(0, at) + text.slice(at + 1 + (next() % 8));
            break;
          case 1:
            text = text.slice(0, at) + junk[next() % junk.length] + text.slice(at);
            break;
          case 2: {
            const lines = text.split("\n");
            const i = next() % lines.length;
            lines.splice(next() % lines.length, 0, lines[i]!);
            text = lines.join("\n");
            break;
          }
          case 3:
            text = text.slice(0, at) + String.fromCharCode(next() % 128) + text.slice(at + 1);
            break;
        }
      }
      try {
        parseDaemonConfig(text, "x.toml");
        parsed++;
      } catch (e) {
        if (!(e instanceof ConfigError)) throw new Error(`seed ${seed} case ${n}: ${(e as Error).stack}\n--- text ---\n${text}`);
        for (const p of e.problems) expect(p.line).toBeGreaterThanOrEqual(1);
        refused++;
      }
    }
    expect(parsed + refused).toBe(2000);
    expect(refused).toBeGreaterThan(100);
  });
});

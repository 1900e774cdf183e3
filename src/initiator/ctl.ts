/**
 * Plan 9 devaoe's ctl and devlink text, byte for byte in layout as 9front
 * prints it (sys/src/9/port/devaoe.c pstat and devlinkread): keywords, order,
 * `maxbcnt: %d [maxmtu %d]`, `%E` addresses (12 lower-case hex digits, no
 * separators), `%.4ux` firmware, flag lists where every word is followed by
 * one space, and the ctl `flag:` line of libfis feature words, a second space
 * where pstat overwrites their newline ("horrid"), then the AoE flags. Values
 * are ours: `nl path` is the interface name, `nl datamtu` its MTU; `rttavg`
 * and `mintimer` are the smoothed round trip and the current resend timeout in
 * whole milliseconds (Jacobson/Karels, see rtt.ts).
 *
 * The aoe(3) tree serves these texts as S.L/ctl and S.L/devlink/N; `stat
 * TARGET` prints the ctl text, then one devlink block per local interface,
 * blocks separated by an empty line. parseCtl/parseDevlink read them back
 * (`stat` on a mounted tree).
 */
import type { DevlinkStatus, TargetStatus } from "./status.ts";
import { NO_MAXMTU } from "./target.ts";

/** Plan 9's %E: "0010a4c3e2f1". */
export function etherHex(mac: Uint8Array): string {
  let s = "";
  for (let i = 0; i < 6; i++) s += (mac[i] ?? 0).toString(16).padStart(2, "0");
  return s;
}

function parseEtherHex(s: string): Uint8Array {
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16) || 0;
  return out;
}

/** Plan 9's aoeflag/pflag: each name followed by a space, then a newline. */
export function flagLine(flags: readonly string[]): string {
  return flags.map((f) => `${f} `).join("") + "\n";
}

export function formatCtl(t: TargetStatus): string {
  return (
    `state: ${t.state}\n` +
    `nopen: ${t.nopen}\n` +
    `nout: ${t.nout}\n` +
    `nmaxout: ${t.nmaxout}\n` +
    `nframes: ${t.nframes}\n` +
    `maxbcnt: ${t.maxbcnt} [maxmtu ${t.maxmtu}]\n` +
    `fw: ${(t.fw & 0xffff).toString(16).padStart(4, "0")}\n` +
    `model: ${t.model}\n` +
    `serial: ${t.serial}\n` +
    `firmware: ${t.firmware}\n` +
    // pflag's "\n" becomes " " (p[-1] = ' '), then aoeflag.
    `flag: ${flagLine(t.features).slice(0, -1)} ${flagLine(t.flags)}`
  );
}

export function formatDevlink(l: DevlinkStatus): string {
  return (
    `addr: ${l.addrs.map((a) => `${etherHex(a)} `).join("")}\n` +
    `npkt: ${l.npkt}\n` +
    `resent: ${l.resent}\n` +
    `flag: ${flagLine(l.flags)}` +
    `rttavg: ${Math.round(l.rttavg)}\n` +
    `mintimer: ${Math.round(l.mintimer)}\n` +
    `datamtu: ${l.datamtu}\n` +
    `nl path: ${l.nlPath}\n` +
    `nl ea: ${etherHex(l.nlEa)}\n` +
    // Plan 9 prints the devlink's flag here again, not the netlink's (all versions).
    `nl flag: ${flagLine(l.flags)}` +
    `nl lostjumbo: ${l.nlLostjumbo}\n` +
    `nl datamtu: ${l.nlDatamtu}\n`
  );
}

/** The whole `stat TARGET` text: ctl, then each devlink, separated by empty lines. */
export function formatTargetStat(t: TargetStatus): string {
  return [formatCtl(t), ...t.devlinks.map(formatDevlink)].join("\n");
}

/** "key: value" lines; the value keeps its trailing spaces (flag lists end in one). */
function fields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(": ");
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 2));
    else if (line.endsWith(":")) m.set(line.slice(0, -1), "");
  }
  return m;
}

const words = (s: string | undefined) => (s ?? "").split(" ").filter((w) => w !== "");
const num = (s: string | undefined) => Number(s ?? 0) || 0;
const AOE_FLAGS = new Set(["up", "jumbo", "nofail"]);

/**
 * Reads a unit ctl text back (the tree's S.L/ctl) into a status; `name`,
 * `sizeBytes`, `config` and `devlinks` come from elsewhere (the directory name,
 * the data file's size, config, devlink/N).
 */
export function parseCtl(text: string): Omit<TargetStatus, "name" | "shelf" | "slot" | "sizeBytes" | "config" | "devlinks" | "bufferCount"> {
  const f = fields(text);
  const mb = /^(\d+)(?: \[maxmtu (\d+)\])?/.exec(f.get("maxbcnt") ?? "");
  const flagWords = words(f.get("flag"));
  return {
    state: f.get("state") === "up" ? "up" : "down",
    nopen: num(f.get("nopen")),
    nout: num(f.get("nout")),
    nmaxout: num(f.get("nmaxout")),
    nframes: num(f.get("nframes")),
    maxbcnt: num(mb?.[1]),
    maxmtu: mb?.[2] === undefined ? NO_MAXMTU : num(mb[2]),
    fw: parseInt(f.get("fw") ?? "0", 16) || 0,
    model: f.get("model") ?? "",
    serial: f.get("serial") ?? "",
    firmware: f.get("firmware") ?? "",
    features: flagWords.filter((w) => !AOE_FLAGS.has(w)),
    flags: flagWords.filter((w) => AOE_FLAGS.has(w)),
  };
}

/** Reads a devlink text back (the tree's S.L/devlink/N). */
export function parseDevlink(text: string): DevlinkStatus {
  const f = fields(text);
  return {
    addrs: words(f.get("addr")).map(parseEtherHex),
    npkt: num(f.get("npkt")),
    resent: num(f.get("resent")),
    flags: words(f.get("flag")),
    rttavg: num(f.get("rttavg")),
    mintimer: num(f.get("mintimer")),
    datamtu: num(f.get("datamtu")),
    nlPath: f.get("nl path") ?? "",
    nlEa: parseEtherHex(f.get("nl ea") ?? ""),
    nlFlags: words(f.get("nl flag")),
    nlLostjumbo: num(f.get("nl lostjumbo")),
    nlDatamtu: num(f.get("nl datamtu")),
  };
}

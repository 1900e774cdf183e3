/**
 * Plan 9 devaoe's ctl and devlink text, byte for byte in layout: keywords,
 * order, `%E` addresses (12 lower-case hex digits, no separators), `%.4ux`
 * firmware, and the flag lists where every word is followed by one space.
 * The layout is that of the Bell Labs devaoe (sys/src/9/port/devaoe.c): ctl
 * with `maxbcnt: %d` and one `flag:` line, devlink without a `datamtu:` line of
 * its own. Values are ours: `nl path` is the interface name; `rttavg` and
 * `mintimer` are the smoothed round trip and the current resend timeout in
 * whole milliseconds (Jacobson/Karels, see rtt.ts).
 *
 * `stat TARGET` prints the ctl text, then one devlink block per local
 * interface, blocks separated by an empty line.
 */
import type { DevlinkStatus, TargetStatus } from "./status.ts";

/** Plan 9's %E: "0010a4c3e2f1". */
export function etherHex(mac: Uint8Array): string {
  let s = "";
  for (let i = 0; i < 6; i++) s += (mac[i] ?? 0).toString(16).padStart(2, "0");
  return s;
}

/** Plan 9's pflag: each name followed by a space, then a newline. */
function flagLine(flags: readonly string[]): string {
  return flags.map((f) => `${f} `).join("") + "\n";
}

export function formatCtl(t: TargetStatus): string {
  return (
    `state: ${t.state}\n` +
    `nopen: ${t.nopen}\n` +
    `nout: ${t.nout}\n` +
    `nmaxout: ${t.nmaxout}\n` +
    `nframes: ${t.nframes}\n` +
    `maxbcnt: ${t.maxbcnt}\n` +
    `fw: ${(t.fw & 0xffff).toString(16).padStart(4, "0")}\n` +
    `model: ${t.model}\n` +
    `serial: ${t.serial}\n` +
    `firmware: ${t.firmware}\n` +
    `flag: ${flagLine(t.flags)}`
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
    `nl path: ${l.nlPath}\n` +
    `nl ea: ${etherHex(l.nlEa)}\n` +
    `nl flag: ${flagLine(l.nlFlags)}` +
    `nl lostjumbo: ${l.nlLostjumbo}\n` +
    `nl datamtu: ${l.nlDatamtu}\n`
  );
}

/** The whole `stat TARGET` text: ctl, then each devlink, separated by empty lines. */
export function formatTargetStat(t: TargetStatus): string {
  return [formatCtl(t), ...t.devlinks.map(formatDevlink)].join("\n");
}

/**
 * Text of the aoe(3) top-level ctl file, as 9front's topctlread prints it.
 * The unit ctl and devlink texts are src/initiator/ctl.ts (formatCtl,
 * formatDevlink), shared with `aoede stat`. Pure: golden tests build the
 * snapshots by hand.
 */
import { etherHex, flagLine } from "../initiator/ctl.ts";

/** One bound interface in its netlink slot (Plan 9 keeps gaps after unbind). */
export interface NetlinkSlotStatus {
  slot: number;
  /** the interface name (Plan 9's path, "#l1/ether1") */
  path: string;
  ea: Uint8Array;
  /** "up" while bound */
  flags: string[];
  lostjumbo: number;
  /** the interface MTU (Plan 9's getmtu) */
  datamtu: number;
}

export interface TopStatus {
  debug: boolean;
  autodiscover: boolean;
  rediscover: boolean;
  netlinks: NetlinkSlotStatus[];
}

const b = (v: boolean) => (v ? 1 : 0);

export function formatTopCtl(s: TopStatus): string {
  let out = `debug: ${b(s.debug)}\nautodiscover: ${b(s.autodiscover)}\nrediscover: ${b(s.rediscover)}\n`;
  for (const n of [...s.netlinks].sort((x, y) => x.slot - y.slot)) {
    const i = n.slot;
    out +=
      `if${i} path: ${n.path}\n` +
      `if${i} ea: ${etherHex(n.ea)}\n` +
      `if${i} flag: ${flagLine(n.flags)}` +
      `if${i} lostjumbo: ${n.lostjumbo}\n` +
      `if${i} datamtu: ${n.datamtu}\n`;
  }
  return out;
}

/** Plan 9's unit directory name: shelf.slot in decimal ("%ud.%ud"). */
export function unitName(shelf: number, slot: number): string {
  return `${shelf}.${slot}`;
}

/** Plan 9's %æ in log events: "aoe9.0". */
export function logName(shelf: number, slot: number): string {
  return `aoe${shelf}.${slot}`;
}

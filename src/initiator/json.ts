/**
 * The --json shapes of discover and stat: plain objects with MACs in
 * colon form, keys in a fixed order so the output is stable.
 */
import { formatMac } from "../aoe/mac.ts";
import type { TargetStatus } from "./status.ts";
import type { StatRow } from "./table.ts";

export interface DiscoveredPathJson {
  interface: string;
  localMac: string;
  targetMac: string;
}

export interface DiscoveredJson {
  target: string;
  shelf: number;
  slot: number;
  bufferCount: number;
  firmware: number;
  sectorsPerFrame: number;
  aoeVersion: number;
  config: string;
  paths: DiscoveredPathJson[];
}

export function statRowJson(r: StatRow) {
  return {
    target: r.name,
    sizeBytes: r.sizeBytes ?? null,
    interfaces: r.interfaces,
    payload: r.payload ?? null,
    state: r.state,
  };
}

export function targetStatusJson(t: TargetStatus) {
  return {
    target: t.name,
    shelf: t.shelf,
    slot: t.slot,
    state: t.state,
    sizeBytes: t.sizeBytes,
    nopen: t.nopen,
    nout: t.nout,
    nmaxout: t.nmaxout,
    nframes: t.nframes,
    maxbcnt: t.maxbcnt,
    maxmtu: t.maxmtu,
    fw: t.fw,
    model: t.model,
    serial: t.serial,
    firmware: t.firmware,
    feature: t.features,
    flag: t.flags,
    config: t.config,
    bufferCount: t.bufferCount,
    devlinks: t.devlinks.map((l) => ({
      addr: l.addrs.map(formatMac),
      npkt: l.npkt,
      resent: l.resent,
      flag: l.flags,
      rttavg: l.rttavg,
      mintimer: l.mintimer,
      datamtu: l.datamtu,
      nl: {
        path: l.nlPath,
        ea: formatMac(l.nlEa),
        flag: l.nlFlags,
        lostjumbo: l.nlLostjumbo,
        datamtu: l.nlDatamtu,
      },
    })),
  };
}

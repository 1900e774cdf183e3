/**
 * Rows and snapshots of live targets, for the tables and --json.
 */
import { SECTOR_SIZE } from "../aoe/constants.ts";
import { formatMac } from "../aoe/mac.ts";
import type { DiscoveredJson } from "./json.ts";
import type { DiscoverRow, StatRow } from "./table.ts";
import type { Target } from "./target.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

export function discoverRow(t: Target): DiscoverRow {
  return {
    name: t.name,
    bufferCount: t.bufferCount,
    firmware: t.firmware,
    sectors: t.sectorCount,
    paths: t.paths.paths.map((p) => `${p.netlink.name}=${formatMac(p.targetMac)}`),
    config: text(t.config),
  };
}

export function discoveredJson(t: Target): DiscoveredJson {
  return {
    target: t.name,
    shelf: t.shelf,
    slot: t.slot,
    bufferCount: t.bufferCount,
    firmware: t.firmware,
    sectorsPerFrame: t.sectorCount,
    aoeVersion: t.aoeVersion,
    config: text(t.config),
    paths: t.paths.paths.map((p) => ({
      interface: p.netlink.name,
      localMac: formatMac(p.netlink.mac),
      targetMac: formatMac(p.targetMac),
    })),
  };
}

/** aoe-stat's row; `up` says whether IDENTIFY answered. */
export function statRow(t: Target, up: boolean): StatRow {
  return {
    name: t.name,
    sizeBytes: t.sizeBytes,
    interfaces: t.netlinks().map((n) => n.name),
    payload: t.maxSectors() * SECTOR_SIZE,
    state: up ? "up" : "down",
  };
}

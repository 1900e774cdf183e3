/**
 * Reading a mounted tree back into the initiator's status snapshots, so that
 * `aoede stat` prints live counters in its usual formats: S.L/ctl and
 * S.L/devlink/N through parseCtl/parseDevlink, the size from data's length,
 * the config string from config. Works on any directory laid out like the
 * tree (tests use plain files).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseCtl, parseDevlink } from "../initiator/ctl.ts";
import { formatTargetName } from "../initiator/name.ts";
import type { TargetStatus } from "../initiator/status.ts";
import type { StatRow } from "../initiator/table.ts";

const UNIT = /^(\d+)\.(\d+)$/;

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback;
  }
}

/** The status of unit shelf.slot under `dir`; undefined when the tree has no such unit. */
export function readTreeTarget(dir: string, shelf: number, slot: number): TargetStatus | undefined {
  const unit = join(dir, `${shelf}.${slot}`);
  let ctl: string;
  try {
    ctl = readFileSync(join(unit, "ctl"), "utf8");
  } catch {
    return undefined;
  }
  let links: string[] = [];
  try {
    links = readdirSync(join(unit, "devlink")).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b));
  } catch {
    // no devlink directory
  }
  let size = 0;
  try {
    size = statSync(join(unit, "data")).size;
  } catch {
    // no data file
  }
  const c = parseCtl(ctl);
  return {
    name: formatTargetName({ shelf, slot }),
    shelf,
    slot,
    ...c,
    sizeBytes: size,
    config: readOr(join(unit, "config"), ""),
    bufferCount: c.nframes,
    devlinks: links.map((n) => parseDevlink(readOr(join(unit, "devlink", n), ""))),
  };
}

/** Every unit under `dir`, by shelf then slot. */
export function readTree(dir: string): TargetStatus[] {
  const out: TargetStatus[] = [];
  for (const name of readdirSync(dir)) {
    const m = UNIT.exec(name);
    if (!m) continue;
    const st = readTreeTarget(dir, Number(m[1]), Number(m[2]));
    if (st) out.push(st);
  }
  return out.sort((a, b) => a.shelf - b.shelf || a.slot - b.slot);
}

/** aoe-stat's row for a unit of the tree. */
export function treeStatRow(st: TargetStatus): StatRow {
  return {
    name: st.name,
    sizeBytes: st.state === "up" ? st.sizeBytes : undefined,
    interfaces: st.devlinks.map((d) => d.nlPath),
    payload: st.maxbcnt,
    state: st.state,
  };
}

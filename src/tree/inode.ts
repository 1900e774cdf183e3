/**
 * Stable node ids of the tree, derived from what a node is: the root 1 (FUSE's
 * root id), the top ctl 2 and log 3, and for unit shelf.slot a block of 64 ids
 * at (shelf * 256 + slot + 1) * 64, one per file kind, devlink N at 16 + N. The
 * same unit always gets the same ids, across removals and restarts, so the
 * server can ignore FORGET. The largest id, 65535 * 256 * 64 + 63, fits 32 bits.
 */
import { ROOT_ID } from "../fuse/proto.ts";

/** the root directory: FUSE_ROOT_ID, which the FUSE layer owns */
export const ROOT_INO = ROOT_ID;
export const TOP_CTL_INO = 2;
export const LOG_INO = 3;

export const UnitFile = {
  Dir: 0,
  Ctl: 1,
  Data: 2,
  Config: 3,
  Ident: 4,
  DevlinkDir: 5,
} as const;
export type UnitFileKind = (typeof UnitFile)[keyof typeof UnitFile];

const BLOCK = 64;
const DEVLINK_BASE = 16;
/** Plan 9's Ndevlink: at most 6 local interfaces per unit. */
export const MAX_DEVLINKS = 6;

export type NodeRef =
  | { kind: "root" }
  | { kind: "topctl" }
  | { kind: "log" }
  | { kind: "unit"; shelf: number; slot: number; file: UnitFileKind }
  | { kind: "devlink"; shelf: number; slot: number; index: number };

export function unitIno(shelf: number, slot: number, file: UnitFileKind): number {
  return (shelf * 256 + slot + 1) * BLOCK + file;
}

export function devlinkIno(shelf: number, slot: number, index: number): number {
  return (shelf * 256 + slot + 1) * BLOCK + DEVLINK_BASE + index;
}

/** What node `ino` names; undefined for ids the scheme never gives. */
export function decodeIno(ino: number): NodeRef | undefined {
  if (ino === ROOT_INO) return { kind: "root" };
  if (ino === TOP_CTL_INO) return { kind: "topctl" };
  if (ino === LOG_INO) return { kind: "log" };
  if (!Number.isSafeInteger(ino) || ino < BLOCK) return undefined;
  const key = Math.floor(ino / BLOCK) - 1;
  const low = ino % BLOCK;
  const shelf = Math.floor(key / 256);
  const slot = key % 256;
  if (shelf >= 0xffff || slot >= 0xff) return undefined;
  if (low <= UnitFile.DevlinkDir) return { kind: "unit", shelf, slot, file: low as UnitFileKind };
  if (low >= DEVLINK_BASE && low < DEVLINK_BASE + MAX_DEVLINKS) return { kind: "devlink", shelf, slot, index: low - DEVLINK_BASE };
  return undefined;
}

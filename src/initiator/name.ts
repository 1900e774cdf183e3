/**
 * Target names as admins type them: `e9.0` (aoetools, /dev/etherd/e9.0) or
 * `9.0` (Plan 9's unit directory name). Shelf 0xffff and slot 0xff are the
 * broadcast addresses, so no target can have them.
 */

export interface TargetAddress {
  shelf: number;
  slot: number;
}

const NAME = /^e?(\d{1,5})\.(\d{1,3})$/;

/** Parses `e9.0` or `9.0`; undefined when the text is not a target name. */
export function parseTargetName(text: string): TargetAddress | undefined {
  const m = NAME.exec(text.trim());
  if (!m) return undefined;
  const shelf = Number(m[1]);
  const slot = Number(m[2]);
  if (shelf >= 0xffff || slot >= 0xff) return undefined;
  return { shelf, slot };
}

/** The aoetools spelling, `e<shelf>.<slot>`: what every table and message prints. */
export function formatTargetName(a: TargetAddress): string {
  return `e${a.shelf}.${a.slot}`;
}

/** A key for maps of targets. */
export function targetKey(shelf: number, slot: number): number {
  return shelf * 256 + slot;
}

/**
 * aoe-stat's table (aoetools): one row per target with the columns device,
 * size, interfaces, payload bytes per frame, state. Widths follow aoe-stat's
 * printf: device right-aligned in 10, size in 15 as decimal gigabytes with
 * three decimals and "GB", the interface list (comma separated, as aoe-stat
 * prints a multipath device's netif) right-aligned in 6, payload in 5, state.
 */

export interface StatRow {
  /** e<shelf>.<slot> */
  name: string;
  /** bytes; undefined before IDENTIFY answered (aoe-stat prints "(NA)") */
  sizeBytes?: number;
  interfaces: string[];
  /** data bytes per frame; undefined when unknown */
  payload?: number;
  state: string;
}

/** aoe-stat's size column: billions of bytes, three decimals. */
export function formatGB(bytes: number | undefined): string {
  return bytes === undefined ? "(NA)" : `${(bytes / 1e9).toFixed(3)}GB`;
}

export function formatStatRow(r: StatRow): string {
  const payload = r.payload === undefined ? "(NA)" : String(r.payload);
  return `${r.name.padStart(10)} ${formatGB(r.sizeBytes).padStart(15)} ${r.interfaces.join(",").padStart(6)} ${payload.padStart(5)} ${r.state}`;
}

/** One line per row, in the order given (callers sort by shelf, then slot). */
export function formatStatTable(rows: readonly StatRow[]): string {
  return rows.map((r) => formatStatRow(r) + "\n").join("");
}

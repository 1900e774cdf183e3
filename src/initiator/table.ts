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

/** One row of `discover`: a target and what its Query Config reply said. */
export interface DiscoverRow {
  name: string;
  bufferCount: number;
  firmware: number;
  /** sectors per frame it advertised */
  sectors: number;
  /** "iface=target MAC" per path */
  paths: string[];
  config: string;
}

/**
 * `discover`'s table: a header, then one row per target. The config string is
 * printed as JSON text when it holds anything but printable ASCII, so that one
 * target is always one line.
 */
export function formatDiscoverTable(rows: readonly DiscoverRow[]): string {
  const pathsWidth = Math.max(5, ...rows.map((r) => r.paths.join(",").length));
  const line = (c: string[]) =>
    `${c[0]!.padEnd(11)} ${c[1]!.padStart(6)} ${c[2]!.padStart(4)} ${c[3]!.padStart(7)}  ${c[4]!.padEnd(pathsWidth)}  ${c[5]!}`.trimEnd() + "\n";
  let out = line(["TARGET", "BUFCNT", "FW", "SECTORS", "PATHS", "CONFIG"]);
  for (const r of rows) {
    const printable = /^[\x20-\x7e]*$/.test(r.config);
    out += line([
      r.name,
      String(r.bufferCount),
      (r.firmware & 0xffff).toString(16).padStart(4, "0"),
      String(r.sectors),
      r.paths.join(","),
      printable ? r.config : JSON.stringify(r.config),
    ]);
  }
  return out;
}

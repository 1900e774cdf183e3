/**
 * The control socket's language: one JSON object per line each way. A request
 * is `{"cmd": "stats" | "show-config" | "show-mask" | "show-reserve" | "targets" |
 * "reload", "name"?: EXPORT}`; the answer is `{"ok": true, ...}` or
 * `{"ok": false, "error": "text"}`. The figures are counters since the daemon
 * started (the monitor divides differences by time).
 */

export type Request =
  | { cmd: "stats" }
  | { cmd: "show-config" }
  | { cmd: "targets" }
  | { cmd: "reload" }
  | { cmd: "show-mask"; name: string }
  | { cmd: "show-reserve"; name: string };

export const COMMANDS = ["stats", "show-config", "targets", "reload", "show-mask", "show-reserve"] as const;

export interface ExportStats {
  name: string;
  /** e<shelf>.<slot> */
  target: string;
  path: string;
  readOnly: boolean;
  /** interfaces attached now */
  interfaces: string[];
  reads: number;
  writes: number;
  readBytes: number;
  writeBytes: number;
  /** other commands: flush, identify, config, mask, reserve */
  other: number;
  /** requests at the storage now */
  inFlight: number;
  /** requests waiting for a storage slot now */
  queued: number;
  /** ATA, AoE and I/O errors answered */
  errors: number;
  /** requests dropped: every slot busy */
  busyDropped: number;
  /** requests per initiator MAC ("52:54:00:12:34:56": n) */
  initiators: Record<string, number>;
}

export interface InterfaceStats {
  name: string;
  up: boolean;
  mac: string | undefined;
  mtu: number | undefined;
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  drops: number;
  /** exports attached now */
  exports: string[];
}

export type StatsReply = {
  ok: true;
  pid: number;
  /** ms since the daemon started */
  uptimeMs: number;
  exports: ExportStats[];
  interfaces: InterfaceStats[];
};

/** One row per export, in discovery's columns (`aoede stat --targets`). */
export interface TargetRow {
  name: string;
  target: string;
  bufferCount: number;
  firmware: number;
  /** sectors per frame, per interface */
  sectors: number;
  /** "iface=our MAC" per interface attached */
  paths: string[];
  config: string;
  sizeBytes: number;
}

export type Reply = { ok: false; error: string } | ({ ok: true } & Record<string, unknown>);

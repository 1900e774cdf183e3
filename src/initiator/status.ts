/**
 * Plain snapshots of a target's state: what `stat` prints, as text or JSON.
 * Formatting works on these, never on live engine objects, so that golden
 * tests can build them by hand.
 */

/** One local interface's view of a target (Plan 9's devlink). */
export interface DevlinkStatus {
  /** the target's MACs reached through this interface */
  addrs: Uint8Array[];
  npkt: number;
  resent: number;
  /** "up" while some path through this interface is healthy */
  flags: string[];
  /** smoothed round trip, ms */
  rttavg: number;
  /** current resend timeout, ms */
  mintimer: number;
  /** data bytes per frame the target advertised on this interface (Query Config sector count x 512) */
  datamtu: number;
  /** the local interface name */
  nlPath: string;
  /** the local interface's MAC */
  nlEa: Uint8Array;
  /** "up", and "jumbo" when its MTU carries more than 1024 data bytes */
  nlFlags: string[];
  nlLostjumbo: number;
  /** the local interface's MTU */
  nlDatamtu: number;
}

export interface TargetStatus {
  /** e<shelf>.<slot> */
  name: string;
  shelf: number;
  slot: number;
  state: "up" | "down";
  /** copies in progress */
  nopen: number;
  /** frames in flight */
  nout: number;
  /** current window */
  nmaxout: number;
  /** window cap: min(buffer count, 128) */
  nframes: number;
  /** data bytes per frame */
  maxbcnt: number;
  /** cap set by the mtu/maxbno verbs; 100000 when unset */
  maxmtu: number;
  /** firmware version from Query Config */
  fw: number;
  model: string;
  serial: string;
  firmware: string;
  /** Plan 9 libfis feature words from IDENTIFY: lba, llba, smart, power, nop, ata8, sct */
  features: string[];
  /** up, jumbo, nofail */
  flags: string[];
  /** device size in bytes */
  sizeBytes: number;
  /** the target's config string */
  config: string;
  bufferCount: number;
  devlinks: DevlinkStatus[];
}

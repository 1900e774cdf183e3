/**
 * Who may use an export: the Mac Mask list (an allow list; empty = everyone) and
 * the reservation (while non-empty, only its MACs may issue ATA commands).
 *
 * MACs are kept as 48-bit integers: exact in a double, cheap to compare and to
 * look up on every request.
 */
import { DirectiveCmd, formatMac, MacMaskError } from "../aoe/index.ts";

/** Most MACs on the Mac Mask list (vblade keeps 32 too) and in a reservation. */
export const MAX_MASKS = 32;
export const MAX_RESERVATION = 32;

/** A 6-byte MAC as a 48-bit integer. */
export function macKey(mac: Uint8Array, at = 0): number {
  return (
    mac[at]! * 0x10000000000 +
    mac[at + 1]! * 0x100000000 +
    ((mac[at + 2]! << 24) >>> 0) +
    (mac[at + 3]! << 16) +
    (mac[at + 4]! << 8) +
    mac[at + 5]!
  );
}

/**
 * Could a station send from this MAC? Not from a group address (the I/G bit:
 * multicast and broadcast) nor from all zeroes; frames that claim to are forged.
 */
export function isStationMac(mac: Uint8Array, at = 0): boolean {
  if (mac[at]! & 0x01) return false;
  for (let i = at; i < at + 6; i++) if (mac[i] !== 0) return true;
  return false;
}

export function keyToMac(key: number): Uint8Array {
  const m = new Uint8Array(6);
  let k = key;
  for (let i = 5; i >= 0; i--) {
    m[i] = k % 256;
    k = Math.floor(k / 256);
  }
  return m;
}

/** "aa:bb:cc:dd:ee:ff" */
export function keyToString(key: number): string {
  return formatMac(keyToMac(key));
}

/** Outcome of an edit: ok, or which directive failed and why (MacMaskError 2 bad directive, 3 list full). */
export type MaskEditResult = { ok: true } | { ok: false; error: 2 | 3; index: number };

/** Outcome of a reservation command: ok, or an AoE error (2 bad argument, 6 reserved). */
export type ReserveResult = { ok: true } | { ok: false; aoeError: 2 | 6 };

export class AccessControl {
  /** allow list, in the order MACs were added */
  private masks: number[] = [];
  private reservation: number[] = [];

  constructor(masks: readonly number[] = [], reservation: readonly number[] = []) {
    this.masks = [...new Set(masks)].slice(0, MAX_MASKS);
    this.reservation = [...new Set(reservation)].slice(0, MAX_RESERVATION);
  }

  get maskList(): readonly number[] {
    return this.masks;
  }

  get reservationList(): readonly number[] {
    return this.reservation;
  }

  /** May this source MAC talk to the export at all? */
  allows(src: number): boolean {
    return this.masks.length === 0 || this.masks.includes(src);
  }

  /** Is the export reserved by someone else than `src`? (ATA gets AoE error 6 then) */
  reservedAgainst(src: number): boolean {
    return this.reservation.length !== 0 && !this.reservation.includes(src);
  }

  /**
   * Apply Mac Mask directives in order. Directives before a failing one stay applied
   * (as on a real target); the failing index is reported.
   */
  editMasks(directives: readonly { cmd: number; mac: number }[]): MaskEditResult {
    for (let i = 0; i < directives.length; i++) {
      const { cmd, mac } = directives[i]!;
      switch (cmd) {
        case DirectiveCmd.None:
          break;
        case DirectiveCmd.Add:
          if (!this.masks.includes(mac)) {
            if (this.masks.length >= MAX_MASKS) return { ok: false, error: MacMaskError.ListFull, index: i };
            this.masks.push(mac);
          }
          break;
        case DirectiveCmd.Delete: {
          const at = this.masks.indexOf(mac);
          if (at >= 0) this.masks.splice(at, 1);
          break;
        }
        default:
          return { ok: false, error: MacMaskError.BadDirective, index: i };
      }
    }
    return { ok: true };
  }

  /** Replace the allow list (command line -m). */
  setMasks(macs: readonly number[]): void {
    this.masks = [...new Set(macs)].slice(0, MAX_MASKS);
  }

  /**
   * Reserve/Release set (force = false) or force set. Set is refused (error 6) while
   * someone else holds the reservation; an empty list releases.
   */
  reserve(src: number, macs: readonly number[], force: boolean): ReserveResult {
    if (macs.length > MAX_RESERVATION) return { ok: false, aoeError: 2 };
    if (!force && this.reservedAgainst(src)) return { ok: false, aoeError: 6 };
    this.reservation = [...new Set(macs)];
    return { ok: true };
  }
}

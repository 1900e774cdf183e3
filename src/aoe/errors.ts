/**
 * The one error a decoder throws. Every decoder in src/aoe reads untrusted
 * frames off the wire; whatever the input (empty, truncated, hostile counts),
 * the only thing that escapes is a DecodeError, so callers can drop the frame
 * with one `instanceof` check and never crash on a bad peer.
 */

/**
 * "short": the frame ends before a field the frame itself says is there.
 * "invalid": the bytes are all present but a field holds a value AoE r11
 * forbids (a wrong ethertype, a config string longer than 1024 bytes).
 */
export type DecodeErrorKind = "short" | "invalid";

export class DecodeError extends Error {
  override readonly name = "DecodeError";
  readonly kind: DecodeErrorKind;
  /** The field being decoded when the input ran out or went wrong. */
  readonly field: string;

  constructor(kind: DecodeErrorKind, field: string, message: string) {
    super(`aoe: ${field}: ${message}`);
    this.kind = kind;
    this.field = field;
  }
}

/** A "short" error: `field` needs `need` bytes of a frame that has `have`. */
export function shortError(field: string, need: number, have: number): DecodeError {
  return new DecodeError("short", field, `frame too short: need ${need} bytes, have ${have}`);
}

/** An "invalid" error: every byte is there, but `field` is not allowed. */
export function invalidError(field: string, message: string): DecodeError {
  return new DecodeError("invalid", field, message);
}

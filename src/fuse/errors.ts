/**
 * The one error the FUSE decoders throw. Requests come from the kernel, but a
 * short read, a newer kernel's layout or a bug must never crash the server: whatever
 * the bytes, the only thing that escapes a decoder is a DecodeError, so the server
 * can answer EIO (or drop the request) with one `instanceof` check.
 */

/**
 * "short": the message ends before a field its header or opcode says is there.
 * "invalid": every byte is present but a field is impossible (a length that
 * disagrees with the bytes read, a name without its NUL, a count past the end).
 */
export type DecodeErrorKind = "short" | "invalid";

export class DecodeError extends Error {
  override readonly name = "DecodeError";

  constructor(
    readonly kind: DecodeErrorKind,
    /** the field being decoded when the input ran out or went wrong */
    readonly field: string,
    message: string,
  ) {
    super(`fuse: ${field}: ${message}`);
  }
}

/** A "short" error: `field` needs `need` bytes of a message that has `have`. */
export function shortError(field: string, need: number, have: number): DecodeError {
  return new DecodeError("short", field, `message too short: need ${need} bytes, have ${have}`);
}

/** An "invalid" error: every byte is there, but `field` is impossible. */
export function invalidError(field: string, message: string): DecodeError {
  return new DecodeError("invalid", field, message);
}

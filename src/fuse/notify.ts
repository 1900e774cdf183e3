/**
 * Notifications: messages the server writes on its own, with unique 0 and the
 * notify code in the out-header's error field.
 *
 * FUSE_NOTIFY_INVAL_ENTRY (3): fuse_notify_inval_entry_out (16), then the name and a NUL:
 * +-------------+---------+-------+--------------+
 * |   parent    | namelen | flags | name | NUL   |
 * +-------------+---------+-------+--------------+
 *  0             8         12      16
 * so the whole message is 16 + 16 + namelen + 1 bytes.
 */
import { OUT_HEADER_LEN, encodeOutHeader } from "./header.ts";
import { NotifyCode } from "./proto.ts";
import { getU32, getU64, need, putU32, putU64 } from "./wire.ts";
import { invalidError } from "./errors.ts";
import { NAME_MAX } from "./node.ts";

/** parent, namelen, flags */
export const INVAL_ENTRY_OUT_LEN = 8 + 4 + 4;

/** The whole FUSE_NOTIFY_INVAL_ENTRY message for `name` under `parent`, ready to write. */
export function encodeNotifyInvalEntry(parent: number, name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length > NAME_MAX || bytes.includes(0) || bytes.includes(0x2f)) {
    throw new RangeError(`fuse: cannot invalidate the name ${JSON.stringify(name)}`);
  }
  const len = OUT_HEADER_LEN + INVAL_ENTRY_OUT_LEN + bytes.length + 1;
  const msg = new Uint8Array(new ArrayBuffer(len));
  encodeOutHeader(msg, len, NotifyCode.INVAL_ENTRY, 0n);
  putU64(msg, OUT_HEADER_LEN, parent);
  putU32(msg, OUT_HEADER_LEN + 8, bytes.length);
  putU32(msg, OUT_HEADER_LEN + 12, 0);
  msg.set(bytes, OUT_HEADER_LEN + INVAL_ENTRY_OUT_LEN); // the NUL is already there
  return msg;
}

/** Reads back the body of an INVAL_ENTRY notification (after the out-header). */
export function decodeNotifyInvalEntry(body: Uint8Array): { parent: number; name: string } {
  need(body, INVAL_ENTRY_OUT_LEN, "notify_inval_entry_out");
  const namelen = getU32(body, 8);
  need(body, INVAL_ENTRY_OUT_LEN + namelen + 1, "notify_inval_entry_out.name");
  if (body[INVAL_ENTRY_OUT_LEN + namelen] !== 0) throw invalidError("notify_inval_entry_out.name", "no terminating NUL");
  return {
    parent: getU64(body, 0),
    name: new TextDecoder().decode(body.subarray(INVAL_ENTRY_OUT_LEN, INVAL_ENTRY_OUT_LEN + namelen)),
  };
}

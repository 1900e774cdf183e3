/** Raw frame bytes for the link and loop tests (independent of the AoE codec on purpose). */
export const ETHERTYPE_AOE = 0x88a2;
export const ETHERTYPE_IPV4 = 0x0800;

/** A frame of `length` bytes to `dst` from `src`, with a 32-bit sequence number at 14 and a pattern after it. */
export function testFrame(dst: Uint8Array, src: Uint8Array, length: number, seq = 0, ethertype = ETHERTYPE_AOE): Uint8Array {
  const f = new Uint8Array(new ArrayBuffer(length));
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = ethertype >> 8;
  f[13] = ethertype & 0xff;
  if (length >= 18) new DataView(f.buffer).setUint32(14, seq);
  for (let i = 18; i < length; i++) f[i] = (i * 7 + seq) & 0xff;
  return f;
}

export function seqOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(14);
}

/** Poll link.receive() until `count` frames arrived or `ms` passed; returns copies. */
export async function collect(link: { receive(): Uint8Array[] }, count: number, ms = 2000): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const deadline = performance.now() + ms;
  while (out.length < count && performance.now() < deadline) {
    const got = link.receive();
    for (const f of got) out.push(f.slice());
    if (got.length === 0) await Bun.sleep(2);
  }
  return out;
}

/**
 * From the Vfs's view of nodes (vfs.ts) to the kernel's structs (attr.ts, statfs.ts):
 * file types, link counts, block counts, validity times.
 */
import type { Attr, EntryOut } from "./attr.ts";
import { DT_DIR, DT_REG, S_IFDIR, S_IFREG } from "./proto.ts";
import type { StatfsOut } from "./statfs.ts";
import type { NodeAttr, NodeKind, Vfs } from "./vfs.ts";

/** st_blksize: what cp and dd take as the preferred I/O size. */
export const BLKSIZE = 4096;

export interface Owner {
  uid: number;
  gid: number;
}

export function toAttr(n: NodeAttr, owner: Owner): Attr {
  const dir = n.kind === "dir";
  const size = Math.max(0, n.size);
  return {
    ino: n.ino,
    size,
    blocks: Math.ceil(size / 512),
    atime: n.mtime,
    mtime: n.mtime,
    ctime: n.mtime,
    mode: (dir ? S_IFDIR : S_IFREG) | (n.perm & 0o7777),
    nlink: n.nlink ?? (dir ? 2 : 1),
    uid: n.uid ?? owner.uid,
    gid: n.gid ?? owner.gid,
    rdev: 0,
    blksize: BLKSIZE,
  };
}

export function toEntry(n: NodeAttr, owner: Owner, entryValid: number, attrValid: number): EntryOut {
  return { nodeid: n.ino, generation: n.generation ?? 0, entryValid, attrValid, attr: toAttr(n, owner) };
}

export function direntType(kind: NodeKind): number {
  return kind === "dir" ? DT_DIR : DT_REG;
}

export function toStatfs(s: ReturnType<Vfs["statfs"]>): StatfsOut {
  const bsize = s.bsize > 0 ? s.bsize : 4096;
  return { blocks: s.blocks, bfree: s.bfree, bavail: s.bfree, files: 0, ffree: 0, bsize, namelen: 255, frsize: bsize };
}

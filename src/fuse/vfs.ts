/**
 * What the FUSE server (src/fuse/server.ts) serves: a file system of numbered nodes,
 * in the style of go-fuse's node API, apart from the kernel protocol (src/fuse/*codec*)
 * and from mounting (ffi/). The aoe(3) tree (src/tree/) implements it; tests implement
 * small ones of their own.
 *
 * Errors: throw (or reject with) a `VfsError` carrying a POSIX errno name; the server
 * maps the name to the platform's number (Linux and FreeBSD differ). Anything else
 * thrown is reported as EIO and logged.
 */

/** errno names the tree and the server use; the server owns the numbers per OS. */
export type ErrnoName =
  | "EPERM" | "ENOENT" | "EIO" | "ENXIO" | "EBADF" | "EAGAIN" | "EACCES" | "EBUSY"
  | "EEXIST" | "ENOTDIR" | "EISDIR" | "EINVAL" | "EFBIG" | "ENOSPC" | "EROFS"
  | "ENOSYS" | "ENOTEMPTY" | "ETIMEDOUT" | "EINTR" | "ENOTSUP" | "ENODEV";

export class VfsError extends Error {
  constructor(readonly errno: ErrnoName, message?: string) {
    super(message ?? errno);
    this.name = "VfsError";
  }
}

export type NodeKind = "dir" | "file";

export interface NodeAttr {
  /** node id; 1 is the root (FUSE_ROOT_ID). Stable for the node's life. */
  ino: number;
  kind: NodeKind;
  /** permission bits only (e.g. 0o555, 0o664); the server adds S_IFDIR / S_IFREG */
  perm: number;
  /** bytes; 0 for synthesized text files (served with direct I/O) */
  size: number;
  /** seconds since the epoch */
  mtime: number;
  nlink?: number;
  /**
   * Changes when a node id is given to a new node (FUSE's generation): the kernel
   * then drops an inode it still holds for the old one instead of reusing it. Default 0.
   */
  generation?: number;
  uid?: number;
  gid?: number;
}

export interface DirEntry {
  name: string;
  ino: number;
  kind: NodeKind;
}

export interface OpenOptions {
  /** serve reads and writes without the page cache (FOPEN_DIRECT_IO): text files */
  directIo: boolean;
  /** opaque handle passed back to read/write/flush/fsync/release */
  handle: number;
}

export interface Vfs {
  lookup(parent: number, name: string): NodeAttr; // throws VfsError("ENOENT")
  getattr(ino: number): NodeAttr;
  readdir(ino: number): DirEntry[];
  /** `flags` are open(2)'s (O_RDONLY/O_WRONLY/O_RDWR/O_TRUNC...) */
  open(ino: number, flags: number): OpenOptions;
  read(ino: number, handle: number, offset: number, length: number): Uint8Array | Promise<Uint8Array>;
  /** returns the bytes taken */
  write(ino: number, handle: number, offset: number, data: Uint8Array): number | Promise<number>;
  /** fsync(2)/fdatasync(2) on the file */
  fsync(ino: number, handle: number): void | Promise<void>;
  release(ino: number, handle: number): void;
  /** truncate/ftruncate; files that ignore it (ctl, data) just return */
  setSize(ino: number, size: number): void;
  /** rmdir / rm -r of a directory node */
  rmdir(parent: number, name: string): void;
  /** total and free bytes for statfs (df) */
  statfs(): { blocks: number; bfree: number; bsize: number };
  /**
   * Tell the server when names vanish or appear, so it can invalidate the kernel's
   * dentry cache (NOTIFY_INVAL_ENTRY) from a safe place. Set by the server.
   */
  onInvalidate?: (parent: number, name: string) => void;
  /**
   * unlink(2) of a file. Optional: without it UNLINK answers EPERM. `rm -r DIR`
   * unlinks DIR's files before its rmdir and gives up on DIR when one fails, so a
   * directory that `rm -r` should remove needs this to succeed for its files (even as
   * a no-op until the rmdir).
   */
  unlink?(parent: number, name: string): void;
}

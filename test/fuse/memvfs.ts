/**
 * A small Vfs for the FUSE tests: a directory, text files served with direct I/O, a
 * `ctl` file that refuses what it does not understand (EINVAL), and a disk-like file
 * backed by a Uint8Array, optionally answering reads and writes asynchronously.
 */
import { VfsError, type DirEntry, type NodeAttr, type OpenOptions, type Vfs } from "../../src/fuse/vfs.ts";

interface Node {
  ino: number;
  name: string;
  parent: number;
  kind: "dir" | "file";
  perm: number;
  /** text files: their bytes; the disk: its store */
  data?: Uint8Array;
  text?: boolean;
  children?: Map<string, Node>;
}

export interface MemVfsOptions {
  diskBytes: number;
  /** answer the disk's reads and writes on a later turn (a promise), as a network disk would */
  async?: boolean;
}

export class MemVfs implements Vfs {
  readonly #nodes = new Map<number, Node>();
  #nextIno = 2;
  #nextHandle = 1;
  readonly disk: Node;
  fsyncs = 0;
  readonly openHandles = new Set<number>();
  readonly writes: { ino: number; offset: number; length: number }[] = [];
  onInvalidate?: (parent: number, name: string) => void;

  constructor(readonly opts: MemVfsOptions) {
    this.#nodes.set(1, { ino: 1, name: "", parent: 1, kind: "dir", perm: 0o755, children: new Map() });
    const dir = this.mkdir(1, "dir");
    this.textFile(dir.ino, "a", "alpha\n");
    this.textFile(dir.ino, "b", "beta\n");
    this.textFile(1, "hello", "hello, world\n");
    this.textFile(1, "ctl", "");
    this.disk = this.#add(1, { name: "disk", kind: "file", perm: 0o644, data: new Uint8Array(opts.diskBytes) });
  }

  #add(parent: number, n: Omit<Node, "ino" | "parent">): Node {
    const node: Node = { ...n, ino: this.#nextIno++, parent };
    this.#nodes.get(parent)!.children!.set(n.name, node);
    this.#nodes.set(node.ino, node);
    return node;
  }

  mkdir(parent: number, name: string): Node {
    return this.#add(parent, { name, kind: "dir", perm: 0o755, children: new Map() });
  }

  textFile(parent: number, name: string, text: string): Node {
    return this.#add(parent, { name, kind: "file", perm: 0o664, text: true, data: new TextEncoder().encode(text) });
  }

  /** Removes a name as the tree would when a target vanishes, and tells the server. */
  vanish(parent: number, name: string): void {
    const n = this.#nodes.get(parent)?.children?.get(name);
    if (!n) return;
    this.#nodes.get(parent)!.children!.delete(name);
    this.#nodes.delete(n.ino);
    this.onInvalidate?.(parent, name);
  }

  #node(ino: number): Node {
    const n = this.#nodes.get(ino);
    if (!n) throw new VfsError("ENOENT");
    return n;
  }

  #attr(n: Node): NodeAttr {
    return {
      ino: n.ino,
      kind: n.kind,
      perm: n.perm,
      size: n.text ? 0 : (n.data?.length ?? 0),
      mtime: 1_700_000_000,
      nlink: n.kind === "dir" ? 2 : 1,
    };
  }

  lookup(parent: number, name: string): NodeAttr {
    const n = this.#node(parent).children?.get(name);
    if (!n) throw new VfsError("ENOENT");
    return this.#attr(n);
  }

  getattr(ino: number): NodeAttr {
    return this.#attr(this.#node(ino));
  }

  readdir(ino: number): DirEntry[] {
    const n = this.#node(ino);
    if (!n.children) throw new VfsError("ENOTDIR");
    return [...n.children.values()].map((c) => ({ name: c.name, ino: c.ino, kind: c.kind }));
  }

  open(ino: number, _flags: number): OpenOptions {
    const n = this.#node(ino);
    if (n.kind === "dir") throw new VfsError("EISDIR");
    const handle = this.#nextHandle++;
    this.openHandles.add(handle);
    return { directIo: n.text === true, handle };
  }

  read(ino: number, _handle: number, offset: number, length: number): Uint8Array | Promise<Uint8Array> {
    const n = this.#node(ino);
    const data = n.data!;
    const out = data.subarray(Math.min(offset, data.length), Math.min(offset + length, data.length));
    if (n === this.disk && this.opts.async) return new Promise((r) => setImmediate(() => r(out)));
    return out;
  }

  write(ino: number, _handle: number, offset: number, data: Uint8Array): number | Promise<number> {
    const n = this.#node(ino);
    this.writes.push({ ino, offset, length: data.length });
    if (n.name === "ctl") {
      const verb = new TextDecoder().decode(data).trim();
      if (verb !== "ok") throw new VfsError("EINVAL", `unknown verb ${JSON.stringify(verb)}`);
    }
    if (n.text) {
      const end = offset + data.length;
      if (end > n.data!.length) {
        const grown = new Uint8Array(end);
        grown.set(n.data!);
        n.data = grown;
      }
      n.data!.set(data, offset);
      return data.length;
    }
    // the disk: fixed size, as a block device
    if (offset >= n.data!.length) throw new VfsError("ENOSPC");
    const take = Math.min(data.length, n.data!.length - offset);
    const apply = () => {
      n.data!.set(data.subarray(0, take), offset);
      return take;
    };
    if (this.opts.async) return new Promise((r) => setImmediate(() => r(apply())));
    return apply();
  }

  fsync(_ino: number, _handle: number): void | Promise<void> {
    this.fsyncs++;
    if (this.opts.async) return new Promise((r) => setImmediate(r));
  }

  release(_ino: number, handle: number): void {
    this.openHandles.delete(handle);
  }

  setSize(ino: number, size: number): void {
    const n = this.#node(ino);
    if (!n.text) return; // the disk ignores truncation, as the tree's data file does
    n.data = n.data!.slice(0, Math.min(size, n.data!.length));
    if (size > n.data.length) {
      const grown = new Uint8Array(size);
      grown.set(n.data);
      n.data = grown;
    }
  }

  rmdir(parent: number, name: string): void {
    const n = this.#node(parent).children?.get(name);
    if (!n) throw new VfsError("ENOENT");
    if (n.kind !== "dir") throw new VfsError("ENOTDIR");
    if (n.children!.size > 0) throw new VfsError("ENOTEMPTY");
    this.#nodes.get(parent)!.children!.delete(name);
    this.#nodes.delete(n.ino);
  }

  unlink(parent: number, name: string): void {
    const n = this.#node(parent).children?.get(name);
    if (!n) throw new VfsError("ENOENT");
    if (n.kind === "dir") throw new VfsError("EISDIR");
    this.#nodes.get(parent)!.children!.delete(name);
    this.#nodes.delete(n.ino);
  }

  statfs(): { blocks: number; bfree: number; bsize: number } {
    return { blocks: this.disk.data!.length / 4096, bfree: 1024, bsize: 4096 };
  }
}

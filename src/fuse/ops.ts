/**
 * What each request means for a Vfs: the bridge between decoded requests
 * (request.ts) and the file system (vfs.ts). Replies are built into the server's
 * out buffer with the codec's encoders and sent through the Replier (server.ts).
 *
 * Choices (../shared/notes/fuse-direct.md, "Choices for the aoe(3) tree"):
 * - LOOKUP misses are ENOENT errors, which the kernel does not cache (a node-0 entry
 *   with a timeout would hide a target found later).
 * - Files the Vfs opens with directIo get FOPEN_DIRECT_IO (synthesized text: no stale
 *   or truncated page-cache copies); others (a disk-like `data`) use the page cache.
 * - SETATTR size → vfs.setSize (`>` sends size 0 first); mode/owner changes → EPERM;
 *   times are ignored.
 * - FSYNC → vfs.fsync (where the tree sends FLUSH CACHE); FLUSH (close) → nothing.
 * - xattrs, FALLOCATE, locks, anything unknown → ENOSYS (the kernel stops asking);
 *   creating names → EPERM.
 */
import { encodeAttrOut, encodeEntryOut, type EntryOut } from "./attr.ts";
import { toAttr, toEntry, toStatfs, direntType, type Owner } from "./attrs.ts";
import { direntLen, direntPlusLen, encodeDirent, encodeDirentPlus } from "./dirent.ts";
import { isReplyErrno, type ReplyErrno } from "./errno.ts";
import { encodeOpenOut, encodeWriteOut } from "./file.ts";
import { OUT_HEADER_LEN } from "./header.ts";
import { encodeInitOut } from "./init.ts";
import { negotiateInit, type InitOptions } from "./negotiate.ts";
import { Opcode, OpenReplyFlag, SetattrValid } from "./proto.ts";
import type { Request } from "./request.ts";
import { encodeStatfsOut } from "./statfs.ts";
import { VfsError, type NodeAttr, type NodeKind, type Vfs } from "./vfs.ts";

export interface OpsOptions extends Owner {
  /** seconds the kernel may cache a name (short: the tree changes under it) */
  entryTimeout: number;
  /** seconds the kernel may cache attributes */
  attrTimeout: number;
}

/** What ops.ts needs of the server loop. */
export interface Replier {
  readonly out: Uint8Array;
  reply(unique: bigint, end: number): void;
  replyErrno(unique: bigint, name: ReplyErrno): void;
  replyData(unique: bigint, data: Uint8Array): void;
  later<T>(unique: bigint, p: Promise<T>, answer: (v: T) => void, fail: (e: unknown) => void, hold?: Uint8Array): void;
  interrupt(target: bigint): void;
  canHoldReadBuffer(): boolean;
  holdReadBuffer(): Uint8Array;
  noteWriteCopy(): void;
  initDone(error?: Error): void;
}

interface DirName {
  name: Uint8Array;
  text: string;
  ino: number;
  kind: NodeKind;
}

interface DirHandle {
  ino: number;
  /** the listing taken at the first READDIR from offset 0, served in pieces */
  names?: DirName[];
}

const BODY = OUT_HEADER_LEN;
const utf8 = new TextEncoder();
/** Opcodes that would create or rename names: the Vfs has no such operations. */
const CREATES: ReadonlySet<number> = new Set([
  Opcode.MKNOD, Opcode.MKDIR, Opcode.SYMLINK, Opcode.LINK, Opcode.RENAME, Opcode.RENAME2, Opcode.CREATE, Opcode.TMPFILE,
]);

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

export class FuseOps {
  readonly #dirs = new Map<number, DirHandle>();
  #nextDirHandle = 1;
  #initialized = false;

  constructor(
    readonly vfs: Vfs,
    readonly r: Replier,
    readonly o: OpsOptions & { init: InitOptions; onError: (message: string, error?: unknown) => void },
  ) {}

  get initialized(): boolean {
    return this.#initialized;
  }

  dispatch(req: Request): void {
    const { header: h, body: b } = req;
    const u = h.unique;
    try {
      switch (b.kind) {
        case "init":
          return this.#init(u, b.init);
        case "forget":
        case "batchForget":
          return; // node ids are the Vfs's and stable: nothing to count
        case "interrupt":
          return this.r.interrupt(b.target);
        case "lookup":
          return this.#entry(u, this.vfs.lookup(h.nodeid, b.name));
        case "getattr":
          return this.#attr(u, this.vfs.getattr(h.nodeid));
        case "setattr": {
          const s = b.setattr;
          if (s.valid & (SetattrValid.MODE | SetattrValid.UID | SetattrValid.GID)) return this.r.replyErrno(u, "EPERM");
          if (s.valid & SetattrValid.SIZE) this.vfs.setSize(h.nodeid, s.size);
          return this.#attr(u, this.vfs.getattr(h.nodeid));
        }
        case "open": {
          const o = this.vfs.open(h.nodeid, b.open.flags);
          return this.r.reply(u, encodeOpenOut({ fh: o.handle, openFlags: o.directIo ? OpenReplyFlag.DIRECT_IO : 0 }, this.r.out, BODY));
        }
        case "read":
          return this.#read(u, h.nodeid, b.read.fh, b.read.offset, b.read.size);
        case "write":
          return this.#write(u, h.nodeid, b.write.fh, b.write.offset, b.write.data);
        case "flush":
          return this.r.reply(u, BODY);
        case "fsync": {
          const p = this.vfs.fsync(h.nodeid, b.fsync.fh);
          if (isPromise(p)) return this.r.later(u, p, () => this.r.reply(u, BODY), (e) => this.#fail(u, e, "fsync"));
          return this.r.reply(u, BODY);
        }
        case "release":
          try {
            this.vfs.release(h.nodeid, b.release.fh);
          } catch (e) {
            this.o.onError(`release of node ${h.nodeid}`, e); // close(2) has already returned
          }
          return this.r.reply(u, BODY);
        case "opendir": {
          if (this.vfs.getattr(h.nodeid).kind !== "dir") return this.r.replyErrno(u, "ENOTDIR");
          const fh = this.#nextDirHandle++;
          this.#dirs.set(fh, { ino: h.nodeid });
          return this.r.reply(u, encodeOpenOut({ fh, openFlags: 0 }, this.r.out, BODY));
        }
        case "readdir":
        case "readdirplus":
          return this.#readdir(u, h.nodeid, b.read.fh, b.read.offset, b.read.size, b.kind === "readdirplus");
        case "releasedir":
          this.#dirs.delete(b.release.fh);
          return this.r.reply(u, BODY);
        case "fsyncdir":
          return this.r.replyErrno(u, "ENOSYS");
        case "statfs":
          return this.r.reply(u, encodeStatfsOut(toStatfs(this.vfs.statfs()), this.r.out, BODY));
        case "access":
          this.vfs.getattr(h.nodeid); // exists; the modes are the kernel's to check (default_permissions)
          return this.r.reply(u, BODY);
        case "rmdir":
          this.vfs.rmdir(h.nodeid, b.name);
          return this.r.reply(u, BODY);
        case "unlink":
          if (!this.vfs.unlink) return this.r.replyErrno(u, "EPERM");
          this.vfs.unlink(h.nodeid, b.name);
          return this.r.reply(u, BODY);
        case "destroy":
          return this.r.reply(u, BODY);
        case "other":
          if (h.opcode === Opcode.NOTIFY_REPLY) return;
          return this.r.replyErrno(u, CREATES.has(h.opcode) ? "EPERM" : "ENOSYS");
      }
    } catch (e) {
      this.#fail(u, e, b.kind);
    }
  }

  /** A Vfs failure as an errno reply: VfsError's name, EIO (logged) for anything else. */
  #fail(u: bigint, e: unknown, what: string): void {
    if (e instanceof VfsError && isReplyErrno(e.errno)) return this.r.replyErrno(u, e.errno);
    this.o.onError(`${what} failed`, e);
    this.r.replyErrno(u, "EIO");
  }

  #init(u: bigint, k: Parameters<typeof negotiateInit>[0]): void {
    const d = negotiateInit(k, this.o.init);
    if (!d.ok) {
      this.r.replyErrno(u, "EPROTO");
      return this.r.initDone(new Error(d.reason));
    }
    this.r.reply(u, encodeInitOut(d.reply, this.r.out, BODY));
    if (d.reply.major === k.major) {
      this.#initialized = true;
      this.r.initDone();
    }
  }

  #entry(u: bigint, n: NodeAttr): void {
    this.r.reply(u, encodeEntryOut(toEntry(n, this.o, this.o.entryTimeout, this.o.attrTimeout), this.r.out, BODY));
  }

  #attr(u: bigint, n: NodeAttr): void {
    this.r.reply(u, encodeAttrOut({ attrValid: this.o.attrTimeout, attr: toAttr(n, this.o) }, this.r.out, BODY));
  }

  #read(u: bigint, ino: number, fh: number, offset: number, size: number): void {
    const answer = (data: Uint8Array) => {
      if (!(data instanceof Uint8Array)) throw new TypeError(`read of node ${ino} gave ${typeof data}, not bytes`);
      this.r.replyData(u, data.length > size ? data.subarray(0, size) : data);
    };
    const got = this.vfs.read(ino, fh, offset, size);
    if (isPromise(got)) return this.r.later(u, got, answer, (e) => this.#fail(u, e, "read"));
    answer(got);
  }

  #write(u: bigint, ino: number, fh: number, offset: number, view: Uint8Array): void {
    // The data is a view into the read buffer. If the Vfs answers later, that buffer
    // must not be read into meanwhile: it is held, or (all held) the data is copied.
    const holdable = this.r.canHoldReadBuffer();
    const data = holdable ? view : view.slice();
    if (!holdable) this.r.noteWriteCopy();
    const answer = (n: number) => {
      if (!Number.isInteger(n) || n < 0 || n > data.length) throw new RangeError(`write of node ${ino} took ${n} of ${data.length} bytes`);
      this.r.reply(u, encodeWriteOut(n, this.r.out, BODY));
    };
    const got = this.vfs.write(ino, fh, offset, data);
    if (!isPromise(got)) return answer(got);
    this.r.later(u, got, answer, (e) => this.#fail(u, e, "write"), holdable ? this.r.holdReadBuffer() : undefined);
  }

  #readdir(u: bigint, ino: number, fh: number, offset: number, size: number, plus: boolean): void {
    let dir = this.#dirs.get(fh);
    if (!dir || dir.ino !== ino) dir = { ino }; // no OPENDIR seen: list afresh
    if (offset === 0 || !dir.names) dir.names = this.#listing(ino);
    const out = this.r.out;
    const limit = Math.min(out.length, BODY + size);
    let at = BODY;
    for (let i = offset; i < dir.names.length; i++) {
      const d = dir.names[i]!;
      const dirent = { ino: d.ino, off: i + 1, type: direntType(d.kind), name: d.name };
      if (!plus) {
        if (at + direntLen(d.name.length) > limit) break;
        at = encodeDirent(dirent, out, at);
        continue;
      }
      if (at + direntPlusLen(d.name.length) > limit) break;
      at = encodeDirentPlus(this.#plusEntry(ino, d), dirent, out, at);
    }
    this.r.reply(u, at);
  }

  /** ".", "..", then the Vfs's names. */
  #listing(ino: number): DirName[] {
    const named = (text: string, i: number, kind: NodeKind): DirName => ({ name: utf8.encode(text), text, ino: i, kind });
    return [named(".", ino, "dir"), named("..", ino, "dir"), ...this.vfs.readdir(ino).map((e) => named(e.name, e.ino, e.kind))];
  }

  /** READDIRPLUS's entry for a name: a LOOKUP's answer; node 0 (no entry) for . and .. or a name gone meanwhile. */
  #plusEntry(dirIno: number, d: DirName): EntryOut {
    if (d.text !== "." && d.text !== "..") {
      try {
        return toEntry(this.vfs.lookup(dirIno, d.text), this.o, this.o.entryTimeout, this.o.attrTimeout);
      } catch {
        // vanished since the listing
      }
    }
    return { nodeid: 0, generation: 0, entryValid: 0, attrValid: 0, attr: toAttr({ ino: 0, kind: d.kind, perm: 0, size: 0, mtime: 0 }, this.o) };
  }
}


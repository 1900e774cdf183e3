/**
 * The aoe(3) tree as a Vfs (src/fuse/vfs.ts) for the FUSE server:
 *
 *   /ctl /log /S.L/{ctl,data,config,ident,devlink/N}
 *
 * with 9front's modes (directories 0555, ctl and config and ident 0664, data
 * 0660, log and devlink/N 0444) and sizes (data, config, ident: their length
 * while the unit is up, else 0; the rest 0). Text files are served with
 * direct I/O from a snapshot taken at the first read of each open (so a
 * reader sees one consistent text); `log` gives one event per read. A failed
 * operation throws VfsError with the closest errno and logs Plan 9's string
 * as `<file>: <string>`.
 */
import type { DirEntry, NodeAttr, OpenOptions, Vfs } from "../fuse/vfs.ts";
import { VfsError } from "../fuse/vfs.ts";
import { formatCtl, formatDevlink } from "../initiator/ctl.ts";
import { Eperm, Eunit, TreeError } from "./errors.ts";
import { decodeIno, devlinkIno, LOG_INO, MAX_DEVLINKS, ROOT_INO, TOP_CTL_INO, UnitFile, unitIno, type NodeRef, type UnitFileKind } from "./inode.ts";
import type { AoeTree, Unit } from "./state.ts";
import { formatTopCtl } from "./text.ts";
import { topCtlWrite, unitCtlWrite } from "./verbs.ts";

const UNIT_FILES: [string, UnitFileKind][] = [
  ["ctl", UnitFile.Ctl],
  ["data", UnitFile.Data],
  ["config", UnitFile.Config],
  ["ident", UnitFile.Ident],
  ["devlink", UnitFile.DevlinkDir],
];

interface Handle {
  ino: number;
  /** the text snapshot of this open, taken at its first read */
  text?: Uint8Array;
  /** a data open counted in nopen */
  unit?: Unit;
}

const enc = new TextEncoder();

export class TreeVfs implements Vfs {
  onInvalidate?: (parent: number, name: string) => void;
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;
  private readonly started = Math.floor(Date.now() / 1000);

  constructor(readonly tree: AoeTree) {
    tree.onUnitsChanged = (name) => this.onInvalidate?.(ROOT_INO, name);
  }

  // ---- names --------------------------------------------------------------------------------

  lookup(parent: number, name: string): NodeAttr {
    const p = this.node(parent);
    switch (p.kind) {
      case "root": {
        if (name === "ctl") return this.getattr(TOP_CTL_INO);
        if (name === "log") return this.getattr(LOG_INO);
        const u = this.tree.unitByName(name);
        if (u) return this.getattr(unitIno(u.shelf, u.slot, UnitFile.Dir));
        break;
      }
      case "unit": {
        if (p.file === UnitFile.Dir) {
          const f = UNIT_FILES.find(([n]) => n === name);
          if (f) return this.getattr(unitIno(p.shelf, p.slot, f[1]));
        } else if (p.file === UnitFile.DevlinkDir) {
          const u = this.unitOf(p);
          if (/^(0|[1-9]\d*)$/.test(name) && Number(name) < u.t.netlinks().length) return this.getattr(devlinkIno(p.shelf, p.slot, Number(name)));
        } else throw new VfsError("ENOTDIR");
        break;
      }
      default:
        throw new VfsError("ENOTDIR");
    }
    throw new VfsError("ENOENT");
  }

  getattr(ino: number): NodeAttr {
    const n = this.node(ino);
    const dir = (perm = 0o555): NodeAttr => ({ ino, kind: "dir", perm, size: 0, mtime: this.started, nlink: 2, uid: 0, gid: 0 });
    const file = (perm: number, size = 0, mtime = this.started): NodeAttr => ({ ino, kind: "file", perm, size, mtime, nlink: 1, uid: 0, gid: 0 });
    switch (n.kind) {
      case "root":
        return dir();
      case "topctl":
        return file(0o664);
      case "log":
        return file(0o444);
      case "devlink": {
        const u = this.unitOf(n);
        if (n.index >= u.t.netlinks().length) throw new VfsError("ENOENT");
        return { ...file(0o444, 0, u.created), generation: u.generation };
      }
      case "unit": {
        const u = this.unitOf(n);
        const attr = (): NodeAttr => {
          switch (n.file) {
            case UnitFile.Dir:
            case UnitFile.DevlinkDir:
              return { ...dir(), mtime: u.created };
            case UnitFile.Ctl:
              return file(0o664, 0, u.created);
            case UnitFile.Data:
              return file(0o660, u.size, u.created);
            case UnitFile.Config:
              return file(0o664, u.up ? u.t.config.length : 0, u.created);
            case UnitFile.Ident:
              return file(0o664, u.up ? 512 : 0, u.created);
          }
        };
        return { ...attr(), generation: u.generation };
      }
    }
    throw new VfsError("ENOENT");
  }

  readdir(ino: number): DirEntry[] {
    const n = this.node(ino);
    if (n.kind === "root") {
      return [
        { name: "ctl", ino: TOP_CTL_INO, kind: "file" },
        { name: "log", ino: LOG_INO, kind: "file" },
        ...this.tree.list().map((u) => ({ name: u.name, ino: unitIno(u.shelf, u.slot, UnitFile.Dir), kind: "dir" as const })),
      ];
    }
    if (n.kind === "unit" && n.file === UnitFile.Dir) {
      this.unitOf(n);
      return UNIT_FILES.map(([name, f]) => ({ name, ino: unitIno(n.shelf, n.slot, f), kind: f === UnitFile.DevlinkDir ? "dir" : "file" }));
    }
    if (n.kind === "unit" && n.file === UnitFile.DevlinkDir) {
      const u = this.unitOf(n);
      return u.t.netlinks().slice(0, MAX_DEVLINKS).map((_, i) => ({ name: String(i), ino: devlinkIno(n.shelf, n.slot, i), kind: "file" as const }));
    }
    throw new VfsError("ENOTDIR");
  }

  /**
   * `rmdir S.L` (and the last step of `rm -r S.L`) removes the target, as 9front's
   * remove of a unit directory. `rmdir S.L/devlink` succeeds and removes nothing:
   * see unlink.
   */
  rmdir(parent: number, name: string): void {
    const p = this.node(parent);
    if (p.kind === "root") {
      const u = this.tree.unitByName(name);
      if (!u) throw new VfsError(name === "ctl" || name === "log" ? "ENOTDIR" : "ENOENT");
      this.tree.remove(u);
      return;
    }
    if (this.lookup(parent, name).kind !== "dir") throw new VfsError("ENOTDIR");
  }

  /**
   * unlink(2) of a file inside a target's directory (S.L/ctl, S.L/devlink/0, ...)
   * succeeds and removes nothing: those files live and die with the target, and
   * only the directory can be removed (9front's devaoe has no file removal). It
   * has to succeed because `rm -r S.L` unlinks every file first and gives up on
   * S.L if one unlink fails; the rmdir that follows removes the target. So a lone
   * `rm S.L/ctl` is a no-op: the file is there again at the next lookup. The
   * top `ctl` and `log` belong to the tree itself: EPERM.
   */
  unlink(parent: number, name: string): void {
    const p = this.node(parent);
    if (p.kind === "root") {
      if (this.tree.unitByName(name)) throw new VfsError("EISDIR");
      if (name === "ctl" || name === "log") throw this.fail(name, new TreeError("EPERM", Eperm));
      throw new VfsError("ENOENT");
    }
    if (this.lookup(parent, name).kind === "dir") throw new VfsError("EISDIR");
  }

  statfs(): { blocks: number; bfree: number; bsize: number } {
    let bytes = 0;
    for (const u of this.tree.list()) bytes += u.size;
    return { blocks: Math.ceil(bytes / 512), bfree: 0, bsize: 512 };
  }

  // ---- files --------------------------------------------------------------------------------

  open(ino: number, _flags: number): OpenOptions {
    const n = this.node(ino);
    const attr = this.getattr(ino);
    if (attr.kind === "dir") throw new VfsError("EISDIR");
    const h: Handle = { ino };
    if (n.kind === "unit" && n.file === UnitFile.Data) {
      const u = this.unitOf(n);
      try {
        this.tree.openData(u);
      } catch (e) {
        throw this.fail(this.path(n), e);
      }
      h.unit = u;
    }
    const handle = this.nextHandle++;
    this.handles.set(handle, h);
    return { directIo: !(n.kind === "unit" && n.file === UnitFile.Data), handle };
  }

  release(_ino: number, handle: number): void {
    const h = this.handles.get(handle);
    this.handles.delete(handle);
    if (h?.unit) this.tree.closeData(h.unit);
  }

  async read(ino: number, handle: number, offset: number, length: number): Promise<Uint8Array> {
    const n = this.node(ino);
    try {
      if (n.kind === "log") return this.tree.log.read(length);
      if (n.kind === "unit" && n.file === UnitFile.Data) return await this.tree.readData(this.unitOf(n), offset, length);
      const h = this.handles.get(handle);
      let text = h?.text;
      if (!text || offset === 0) {
        text = this.render(n);
        if (h) h.text = text;
      }
      return text.subarray(Math.min(offset, text.length), Math.min(offset + length, text.length));
    } catch (e) {
      throw this.fail(this.path(n), e);
    }
  }

  async write(ino: number, _handle: number, offset: number, data: Uint8Array): Promise<number> {
    const n = this.node(ino);
    try {
      if (n.kind === "topctl") {
        topCtlWrite(this.tree, new TextDecoder().decode(data));
        return data.length;
      }
      if (n.kind === "unit") {
        const u = this.unitOf(n);
        switch (n.file) {
          case UnitFile.Ctl:
            await unitCtlWrite(this.tree, u, new TextDecoder().decode(data));
            return data.length;
          case UnitFile.Data:
            return await this.tree.writeData(u, offset, data);
          case UnitFile.Config:
            return await this.tree.writeConfig(u, offset, data);
        }
      }
      throw new TreeError("EPERM", Eperm);
    } catch (e) {
      throw this.fail(this.path(n), e);
    }
  }

  async fsync(ino: number, _handle: number): Promise<void> {
    const n = this.node(ino);
    if (n.kind !== "unit" || n.file !== UnitFile.Data) return;
    try {
      await this.tree.flush(this.unitOf(n));
    } catch (e) {
      throw this.fail(this.path(n), e);
    }
  }

  /** truncate/O_TRUNC: ignored (a disk and ctl files have no length to cut). */
  setSize(): void {}

  // ---- helpers ------------------------------------------------------------------------------

  private node(ino: number): NodeRef {
    const n = decodeIno(ino);
    if (!n) throw new VfsError("ENOENT");
    return n;
  }

  private unitOf(n: { shelf: number; slot: number }): Unit {
    const u = this.tree.unit(n.shelf, n.slot);
    if (!u) throw new VfsError("ENOENT", Eunit);
    return u;
  }

  private render(n: NodeRef): Uint8Array {
    if (n.kind === "topctl") return enc.encode(formatTopCtl(this.tree.topStatus()));
    if (n.kind === "devlink") {
      const d = this.unitOf(n).t.status().devlinks[n.index];
      return d ? enc.encode(formatDevlink(d)) : new Uint8Array(0);
    }
    if (n.kind === "unit") {
      const u = this.unitOf(n);
      if (n.file === UnitFile.Ctl) return enc.encode(formatCtl(u.t.status()));
      if (n.file === UnitFile.Config) return this.tree.configBytes(u).slice();
      if (n.file === UnitFile.Ident) return this.tree.identBytes(u).slice();
    }
    throw new TreeError("EPERM", Eperm);
  }

  private path(n: NodeRef): string {
    switch (n.kind) {
      case "root":
        return "/";
      case "topctl":
        return "ctl";
      case "log":
        return "log";
      case "devlink":
        return `${n.shelf}.${n.slot}/devlink/${n.index}`;
      case "unit": {
        const f = UNIT_FILES.find(([, k]) => k === n.file)?.[0];
        return f ? `${n.shelf}.${n.slot}/${f}` : `${n.shelf}.${n.slot}`;
      }
    }
  }

  /** Logs Plan 9's string for `file` and turns the failure into a VfsError. */
  private fail(file: string, e: unknown): VfsError {
    if (e instanceof VfsError) return e;
    const te = e instanceof TreeError ? e : new TreeError("EIO", e instanceof Error ? e.message : String(e));
    this.tree.event(`${file}: ${te.message}`);
    return new VfsError(te.errno, te.message);
  }
}

/**
 * How other commands find a running tree: `aoede mount` writes
 * <runtime dir>/tree.<pid>.json ({ mountpoint, pid, started }) once mounted and
 * removes it at exit; /run/aoede on Linux, /var/run/aoede on FreeBSD, or
 * $AOEDE_RUNTIME_DIR. A file whose process is gone, or whose mount point has
 * no ctl file, is stale and skipped (a killed mount leaves one behind). Only
 * runtime files count, not /proc/mounts: a tree mounted for a test (with a
 * runtime directory of its own) must not capture every other `aoede stat`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TreeRuntime {
  mountpoint: string;
  pid: number;
  /** seconds since the epoch */
  started: number;
}

export function runtimeDir(): string {
  return process.env.AOEDE_RUNTIME_DIR ?? (process.platform === "freebsd" ? "/var/run/aoede" : "/run/aoede");
}

function fileOf(pid: number, dir: string): string {
  return join(dir, `tree.${pid}.json`);
}

/** Records this process's mount (written whole: a reader never sees half a file); drops files of dead processes. */
export function writeRuntime(mountpoint: string, dir = runtimeDir()): string {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const name of readdirSync(dir)) {
    const m = /^tree\.(\d+)\.json$/.exec(name);
    if (m && !alive(Number(m[1]))) rmSync(join(dir, name), { force: true });
  }
  const file = fileOf(process.pid, dir);
  const rec: TreeRuntime = { mountpoint, pid: process.pid, started: Math.floor(Date.now() / 1000) };
  writeFileSync(`${file}.tmp`, JSON.stringify(rec) + "\n");
  renameSync(`${file}.tmp`, file);
  return file;
}

export function removeRuntime(dir = runtimeDir()): void {
  rmSync(fileOf(process.pid, dir), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Mount points of live trees, from their runtime files. */
export function findMountedTrees(dir = runtimeDir()): string[] {
  const found: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // no runtime directory: no tree started here
  }
  for (const name of names.filter((n) => /^tree\.\d+\.json$/.test(n)).sort()) {
    try {
      const rec = JSON.parse(readFileSync(join(dir, name), "utf8")) as TreeRuntime;
      if (typeof rec.mountpoint === "string" && alive(rec.pid) && existsSync(join(rec.mountpoint, "ctl"))) found.push(rec.mountpoint);
    } catch {
      // unreadable or half-written: skip
    }
  }
  return found;
}

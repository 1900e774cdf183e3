/**
 * What the server answers to INIT: a pure function of the kernel's offer and the
 * server's options, so the choice is tested without a kernel.
 *
 * Flags asked for (../shared/notes/fuse-direct.md, "INIT"): ASYNC_READ (several
 * readahead READs in flight), BIG_WRITES (WRITEs beyond 4 KiB), AUTO_INVAL_DATA (cached
 * pages dropped when size or mtime change), ASYNC_DIO (one O_DIRECT call becomes
 * parallel requests), PARALLEL_DIROPS, MAX_PAGES (1 MiB requests, not 128 KiB),
 * ABORT_ERROR (a fusectl abort reads as ECONNABORTED), DO_READDIRPLUS (ls -l costs no
 * LOOKUP per name). Never WRITEBACK_CACHE: a write must reach the Vfs (the AoE
 * target) before write(2) returns. Never ATOMIC_O_TRUNC: `>` then arrives as SETATTR
 * size 0, which the Vfs's setSize sees. Locks, splice, export: off.
 */
import type { InitIn, InitOut } from "./init.ts";
import { InitFlag, KERNEL_MINOR, KERNEL_VERSION, MIN_KERNEL_MINOR } from "./proto.ts";

export interface InitOptions {
  /** the largest WRITE (and READ) payload, bytes: 1 MiB by default; the read buffer is sized from it */
  maxWrite: number;
  /** background requests (readahead, async direct I/O) the kernel may have in flight */
  maxBackground: number;
  /** ask for READDIRPLUS */
  readdirplus: boolean;
}

export const DEFAULT_INIT_OPTIONS: InitOptions = { maxWrite: 1 << 20, maxBackground: 64, readdirplus: true };

const PAGE = 4096;

export const WANTED_FLAGS =
  InitFlag.ASYNC_READ |
  InitFlag.BIG_WRITES |
  InitFlag.AUTO_INVAL_DATA |
  InitFlag.ASYNC_DIO |
  InitFlag.PARALLEL_DIROPS |
  InitFlag.MAX_PAGES |
  InitFlag.ABORT_ERROR;

export type InitDecision =
  | { ok: true; reply: InitOut }
  /** a kernel too old (or too strange) to serve: reply EPROTO and the mount fails */
  | { ok: false; reason: string };

export function negotiateInit(k: InitIn, o: InitOptions = DEFAULT_INIT_OPTIONS): InitDecision {
  if (k.major > KERNEL_VERSION) {
    // A newer major: say which one we speak; the kernel sends INIT again at 7 or gives up.
    return { ok: true, reply: { ...zeroInitOut(), major: KERNEL_VERSION, minor: KERNEL_MINOR } };
  }
  if (k.major < KERNEL_VERSION || k.minor < MIN_KERNEL_MINOR) {
    return { ok: false, reason: `kernel FUSE ${k.major}.${k.minor} is older than 7.${MIN_KERNEL_MINOR}` };
  }
  const wanted = WANTED_FLAGS | (o.readdirplus ? InitFlag.DO_READDIRPLUS : 0);
  const flags = (wanted & k.flags) >>> 0;
  const maxWrite = Math.max(PAGE, Math.floor(o.maxWrite));
  const maxBackground = Math.min(0xffff, Math.max(1, Math.floor(o.maxBackground)));
  return {
    ok: true,
    reply: {
      major: KERNEL_VERSION,
      minor: Math.min(k.minor, KERNEL_MINOR),
      maxReadahead: k.maxReadahead,
      flags,
      maxBackground,
      congestionThreshold: Math.max(1, Math.floor((maxBackground * 3) / 4)),
      maxWrite,
      timeGran: 1,
      maxPages: flags & InitFlag.MAX_PAGES ? Math.min(0xffff, Math.ceil(maxWrite / PAGE)) : 0,
      flags2: 0,
    },
  };
}

function zeroInitOut(): InitOut {
  return {
    major: 0, minor: 0, maxReadahead: 0, flags: 0, maxBackground: 0, congestionThreshold: 0,
    maxWrite: 0, timeGran: 0, maxPages: 0, flags2: 0,
  };
}

/**
 * The read buffer the server needs for `maxWrite`: a WRITE request is a 40-byte
 * header + 40-byte write_in + the data, and Linux refuses reads into less than
 * max(8192, max_write + 80) bytes (measured: + 79 fails). One page of room on top.
 */
export function readBufferSize(maxWrite: number): number {
  return Math.max(8192, maxWrite + PAGE);
}

import { existsSync } from "node:fs";

/**
 * How big each part of the campaign is: `full` for `bun run soak`, `ci` for the
 * test suite (a few minutes on a 2-core machine). Any figure can be overridden
 * from the environment (SOAK_FLOOD_FRAMES=2000000 bun run soak), and SOAK_SEED
 * replays a run.
 */
export interface SoakSizes {
  seed: number;
  floodFrames: number;
  lockoutFrames: number;
  floodCopyMiB: number;
  /** frames a second the flood is held to; 0: as fast as the kernel takes them */
  floodPps: number;
  kills: number;
  syncKills: number;
  crashCopyMiB: number;
  initiators: number;
  paths: number;
  regionMiB: number;
  loserWrites: number;
  faultImageMiB: number;
  /** mutated daemon config files */
  configFiles: number;
}

export const PROFILES: Record<"ci" | "full", SoakSizes> = {
  ci: {
    seed: 0x50a6,
    floodFrames: 1_000_000,
    lockoutFrames: 50_000,
    floodCopyMiB: 8,
    floodPps: 0,
    kills: 5,
    syncKills: 5,
    crashCopyMiB: 16,
    initiators: 8,
    paths: 4,
    regionMiB: 4,
    loserWrites: 100,
    faultImageMiB: 4,
    configFiles: 40,
  },
  full: {
    seed: 0x50a6,
    floodFrames: 10_000_000,
    lockoutFrames: 500_000,
    floodCopyMiB: 32,
    floodPps: 0,
    kills: 20,
    syncKills: 20,
    crashCopyMiB: 64,
    initiators: 8,
    paths: 4,
    regionMiB: 32,
    loserWrites: 1000,
    faultImageMiB: 16,
    configFiles: 400,
  },
};

const ENV: Record<keyof SoakSizes, string> = {
  seed: "SOAK_SEED",
  floodFrames: "SOAK_FLOOD_FRAMES",
  lockoutFrames: "SOAK_LOCKOUT_FRAMES",
  floodCopyMiB: "SOAK_FLOOD_COPY_MIB",
  floodPps: "SOAK_FLOOD_PPS",
  kills: "SOAK_KILLS",
  syncKills: "SOAK_SYNC_KILLS",
  crashCopyMiB: "SOAK_CRASH_COPY_MIB",
  initiators: "SOAK_INITIATORS",
  paths: "SOAK_PATHS",
  regionMiB: "SOAK_REGION_MIB",
  loserWrites: "SOAK_LOSER_WRITES",
  faultImageMiB: "SOAK_FAULT_IMAGE_MIB",
  configFiles: "SOAK_CONFIG_FILES",
};

/** A profile with the environment's overrides applied. */
export function soakSizes(profile: "ci" | "full", env: Record<string, string | undefined> = process.env): SoakSizes {
  const s = { ...PROFILES[profile] };
  for (const k of Object.keys(ENV) as (keyof SoakSizes)[]) {
    const v = env[ENV[k]];
    if (v === undefined || v === "") continue;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${ENV[k]}=${v}: give a number`);
    s[k] = n;
  }
  return s;
}

/** Why the campaign cannot run here, or undefined. */
export function soakUnavailable(): string | undefined {
  if (process.platform !== "linux") return "the campaign needs Linux (network namespaces, AF_PACKET, FUSE)";
  if (process.getuid?.() !== 0) return "the campaign needs root (namespaces, raw sockets, mounts)";
  if (!Bun.which("cc") && !Bun.which("gcc")) return "no C compiler for soak/flood.c: bash scripts/setup.sh --test";
  return undefined;
}

/** Why the storage faults cannot run here, or undefined. */
export function faultsUnavailable(): string | undefined {
  const missing = soakUnavailable();
  if (missing) return missing;
  if (!existsSync("/dev/fuse")) return "no /dev/fuse (the EIO file is a FUSE file)";
  if (!Bun.which("pkg-config") || Bun.spawnSync(["pkg-config", "--exists", "fuse3"]).exitCode !== 0) return "libfuse3-dev (and pkg-config) missing: bash scripts/setup.sh --test";
  if (!Bun.which("mkfs.ext4") && !Bun.which("mkfs.ext4", { PATH: "/usr/sbin:/sbin" })) return "mkfs.ext4 is missing";
  return undefined;
}

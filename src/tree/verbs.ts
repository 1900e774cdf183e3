/**
 * The ctl verbs, as 9front's topctlwrite and unitctlwrite: the same tables
 * (verb, field count), the same parsing and the same error strings; a failure
 * is a TreeError (EINVAL for a bad verb or argument) whose message is Plan 9's
 * string.
 */
import { ATA_DATA_OFFSET } from "../aoe/ata.ts";
import { SECTOR_SIZE } from "../aoe/constants.ts";
import { NO_MAXMTU } from "../initiator/target.ts";
import { CmdError, cmdError, E_CMDARGS, lookupCmd, parseCmd, strtol, strtoss, toggle } from "./cmd.ts";
import { TreeError } from "./errors.ts";
import type { AoeTree, Unit } from "./state.ts";

const TOP = [
  { name: "autodiscover", narg: 0 },
  { name: "bind", narg: 2 },
  { name: "debug", narg: 0 },
  { name: "discover", narg: 0 },
  { name: "rediscover", narg: 0 },
  { name: "remove", narg: 2 },
  { name: "unbind", narg: 2 },
] as const;

const UNIT = [
  { name: "failio", narg: 1 },
  { name: "identify", narg: 1 },
  { name: "jumbo", narg: 0 },
  { name: "maxbno", narg: 0 },
  { name: "mtu", narg: 0 },
  { name: "nofail", narg: 0 },
  { name: "setsize", narg: 0 },
] as const;

function invalid(e: unknown): never {
  if (e instanceof CmdError) throw new TreeError("EINVAL", e.message);
  throw e;
}

/** A write to the top-level ctl. */
export function topCtlWrite(tree: AoeTree, text: string): void {
  try {
    const f = parseCmd(text);
    const c = lookupCmd(f, TOP);
    const arg = f[1];
    switch (c.name) {
      case "autodiscover":
        tree.autodiscover = toggle(arg, tree.autodiscover);
        break;
      case "bind":
        tree.bind(arg!);
        break;
      case "debug":
        tree.debug = toggle(arg, tree.debug);
        break;
      case "discover": {
        const a = strtoss(arg);
        tree.discover(a.shelf, a.slot);
        break;
      }
      case "rediscover":
        tree.rediscover = toggle(arg, tree.rediscover);
        break;
      case "remove": {
        const a = strtoss(arg);
        const u = tree.unit(a.shelf, a.slot);
        if (!u) throw new TreeError("EINVAL", "device not bound");
        tree.remove(u);
        break;
      }
      case "unbind":
        tree.unbind(arg!);
        break;
    }
  } catch (e) {
    invalid(e);
  }
}

/** A write to S.L/ctl; `identify` waits for the target's answer. */
export async function unitCtlWrite(tree: AoeTree, u: Unit, text: string): Promise<void> {
  let f: string[];
  let c: (typeof UNIT)[number];
  try {
    f = parseCmd(text);
    c = lookupCmd(f, UNIT);
  } catch (e) {
    invalid(e);
  }
  const t = u.t;
  switch (c.name) {
    case "failio":
      tree.down(u, "failio", "i/o failure");
      return;
    case "identify":
      return tree.identify(u);
    case "jumbo":
      t.jumbo = toggle(f[1], t.jumbo);
      return;
    case "nofail":
      t.nofail = toggle(f[1], t.nofail);
      return;
    case "maxbno":
    case "mtu": {
      if (f.length > 2) throw new TreeError("EINVAL", E_CMDARGS);
      if (f.length === 1) {
        t.maxmtu = NO_MAXMTU;
        return;
      }
      const n = strtol(f[1]!).value;
      let m = c.name === "maxbno" ? n * SECTOR_SIZE : n - ATA_DATA_OFFSET; // 9front: mtu - AOEATASZ
      if (c.name === "mtu") m -= ((m % SECTOR_SIZE) + SECTOR_SIZE) % SECTOR_SIZE;
      if (m <= 0 || m > t.devMaxData()) throw new TreeError("EINVAL", cmdError(f, "invalid mtu").message);
      t.maxmtu = m;
      return;
    }
    case "setsize": {
      if (f.length > 2) throw new TreeError("EINVAL", E_CMDARGS);
      if (f.length === 1) {
        u.bsize = undefined;
        return;
      }
      const r = strtol(f[1]!);
      if (r.value < 0 || r.value % SECTOR_SIZE !== 0) throw new TreeError("EINVAL", cmdError(f, "disk size must be sector aligned").message);
      u.bsize = r.value;
      return;
    }
  }
}

/**
 * Discovery: a Query Config broadcast on each interface, replies gathered for
 * a while, merged by shelf.slot; every (interface, target MAC) pair that
 * answered becomes a path. Announcements (the unsolicited reply a target
 * broadcasts when it starts) count too, as in Plan 9 and Linux.
 */
import { BROADCAST_MAC } from "../aoe/mac.ts";
import { AOE_VERSION, BROADCAST_MAJOR, BROADCAST_MINOR, Command } from "../aoe/constants.ts";
import { encodeHeader } from "../aoe/header.ts";
import { ConfigCmd, encodeConfig } from "../aoe/config.ts";
import { newFrame } from "../aoe/frame.ts";
import type { Initiator } from "./engine.ts";
import type { NetLink } from "./netlink.ts";
import type { Target } from "./target.ts";

export interface DiscoverOptions {
  /** how long to gather replies (ms) */
  timeoutMs: number;
  /** ask one shelf (default every shelf) */
  shelf?: number;
  /** ask one slot (default every slot) */
  slot?: number;
  /**
   * With shelf and slot given: stop as soon as every interface has a path to
   * that target, or `settleMs` after its first reply, instead of waiting out
   * the timeout.
   */
  settleMs?: number;
}

/** Rebroadcast this often while gathering: one lost broadcast must not hide a target. */
const REBROADCAST_MS = 250;

export function queryConfigFrame(nl: NetLink, tag: number, shelf: number, slot: number): Uint8Array {
  const f = newFrame(60);
  encodeHeader(
    { dst: BROADCAST_MAC, src: nl.mac, version: AOE_VERSION, flags: 0, error: 0, major: shelf, minor: slot, command: Command.QueryConfig, tag },
    f,
  );
  encodeConfig({ bufferCount: 0, firmware: 0, sectorCount: 0, aoeVersion: 0, ccmd: ConfigCmd.Read, config: new Uint8Array(0) }, f);
  return f;
}

/** Targets that answered (or announced themselves) during the discovery, by shelf then slot. */
export function discover(ini: Initiator, o: DiscoverOptions): Promise<Target[]> {
  const shelf = o.shelf ?? BROADCAST_MAJOR;
  const slot = o.slot ?? BROADCAST_MINOR;
  const one = o.shelf !== undefined && o.slot !== undefined;
  const seen = new Map<Target, Set<NetLink>>();
  const sentAt = new Map<NetLink, number>();

  return new Promise((resolve) => {
    let settleTimer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timeout);
      clearInterval(again);
      clearTimeout(settleTimer);
      unwatch();
      resolve([...seen.keys()].sort((a, b) => a.shelf - b.shelf || a.slot - b.slot));
    };
    const unwatch = ini.watchConfig(({ target, netlink, src }) => {
      if (shelf !== BROADCAST_MAJOR && target.shelf !== shelf) return;
      if (slot !== BROADCAST_MINOR && target.slot !== slot) return;
      let links = seen.get(target);
      if (!links) seen.set(target, (links = new Set()));
      links.add(netlink);
      // The reply to our broadcast is the path's first round-trip sample.
      const path = target.paths.find(netlink, src);
      const t0 = sentAt.get(netlink);
      if (path && t0 !== undefined && path.rtt.samples === 0) path.rtt.sample(performance.now() - t0);
      if (one) {
        if (links.size >= ini.netlinks.length) finish();
        else settleTimer ??= setTimeout(expire, o.settleMs ?? 100);
      }
    });
    const broadcast = () => {
      for (const nl of ini.netlinks) {
        if (!nl.link.open) continue;
        if (one && [...seen.values()].some((s) => s.has(nl))) continue;
        sentAt.set(nl, performance.now());
        try {
          ini.sendRaw(nl, queryConfigFrame(nl, ini.newTag(), shelf, slot));
        } catch {
          // an interface that went away: the others may still answer
        }
      }
    };
    // The window is measured from the first broadcast, but replies that reached the
    // kernel within it count even if the loop has not been told yet (the poller's
    // thread still starting, or this process not scheduled on a busy machine):
    // take them before giving up.
    const expire = () => {
      ini.pollNow();
      finish();
    };
    const timeout = setTimeout(expire, o.timeoutMs);
    const again = setInterval(broadcast, Math.max(20, Math.min(REBROADCAST_MS, o.timeoutMs / 3)));
    broadcast();
  });
}

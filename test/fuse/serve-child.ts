/**
 * A FUSE server in a process of its own, for the tests that kill it or measure it:
 *   bun serve-child.ts MOUNTPOINT serve   mount, print "mounted <conn> <cleared-stale>", serve until SIGTERM
 *   bun serve-child.ts MOUNTPOINT idle    mount, sit idle 2 s, print the wake-up counts as JSON, unmount
 */
import { readdirSync, readFileSync } from "node:fs";
import { sharedPoller } from "../../ffi/poller.ts";
import { mountVfs } from "../../src/fuse/mount.ts";
import { MemVfs } from "./memvfs.ts";

const [mountpoint, mode] = process.argv.slice(2);
// Before mounting: Bun installs a signal handler on a later turn, and the test signals
// as soon as it reads "mounted".
let terminated = false;
process.on("SIGTERM", () => {
  terminated = true;
  void m?.unmount().then(() => process.exit(0));
});
const m = await mountVfs(new MemVfs({ diskBytes: 1 << 20 }), mountpoint!);
if (terminated) await m.unmount().then(() => process.exit(0));
console.log(`mounted ${m.connection} ${m.clearedStale}`);

if (mode === "idle") {
  // Over every thread: CPU time (schedstat, ns) and wake-ups (voluntary context
  // switches), as test/net/loop.test.ts judges the event loop's idleness.
  const sample = () => {
    let ns = 0;
    let wakes = 0;
    let mainWakes = 0;
    for (const t of readdirSync("/proc/self/task")) {
      try {
        ns += Number(readFileSync(`/proc/self/task/${t}/schedstat`, "utf8").split(" ")[0]);
        const w = Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/self/task/${t}/status`, "utf8"))![1]);
        wakes += w;
        if (Number(t) === process.pid) mainWakes = w;
      } catch {}
    }
    return { ns, wakes, mainWakes };
  };
  Bun.gc(true);
  await Bun.sleep(300);
  const p0 = sharedPoller().stats.wakes;
  const r0 = m.stats.requests;
  const t0 = performance.now();
  const s0 = sample();
  await Bun.sleep(2000);
  const s1 = sample();
  console.log(JSON.stringify({ cpuNs: s1.ns - s0.ns, threadWakes: s1.wakes - s0.wakes, mainWakes: s1.mainWakes - s0.mainWakes, wallNs: (performance.now() - t0) * 1e6, pollerWakes: sharedPoller().stats.wakes - p0, requests: m.stats.requests - r0 }));
  await m.unmount();
} else {
  await m.done;
}

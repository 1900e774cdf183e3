#!/usr/bin/env bun
/**
 * bench/run.ts — `bun run bench` (as root): AoEde's target against vblade and a
 * null target, loaded by an instrument that is not AoEde, and AoEde's initiator
 * against that instrument.
 *
 * Builds a private world (two network namespaces joined by a veth pair, names of
 * its own, removed on exit and on Ctrl-C), puts the target under test in one
 * namespace and the native load generator (bench/native/loadgen.c, built with
 * the system compiler into node_modules/.cache/aoede-native/) in the other. The
 * load generator keeps a fixed window of frames in flight for a fixed time and
 * counts resends, errors and verify failures. Targets:
 *
 *   aoede      `aoede serve -b 64` (compiled from this checkout; --source: bun src/cli/main.ts)
 *   vblade64   `vblade -b 64` (Debian's vblade 25)
 *   vblade     `vblade` with its default buffer count (16)
 *   null       bench/native/nulltarget.c: no storage at all, the ceiling of this
 *              machine's request/response path (memory part only)
 *
 * For each MTU (1500, 9000): memory-backed (a file in /dev/shm), every target, at
 * windows 1, 16 and 64, modes read and write (the largest frame the MTU allows:
 * 2 sectors at 1500, 17 at 9000) and randread and randwrite (4 KiB); disk-backed
 * (a file under /var/tmp written first, targets with -d, O_DIRECT), random reads at
 * window 16. The targets take turns in every run (the first one changes from run
 * to run); figures are medians of the runs. Then, per MTU: a --verify pass of the
 * load generator against serve (write, then random reads of a pattern: any error
 * or wrong sector fails the bench); AoEde's initiator (`aoede bench`, seqread)
 * beside the native load generator (read) against the native null target at the
 * same windows (frames/s); the idle cost of `aoede serve` (CPU over --idle seconds
 * without traffic, all threads, /proc/PID/task/N/schedstat: right after start-up,
 * 40 s later when Bun's 1 Hz GC timer has gone quiet, and with that timer off)
 * and its resident memory under load (VmHWM); `dd bs=1M` from the aoe(3) tree's
 * `data` (`aoede mount`, with and without iflag=direct) beside `aoede read` of the
 * same target (bench/tree.ts); and the goals of issues 10 and 11.
 *
 * Usage: bun bench/run.ts [options]
 *   --duration S      measured seconds per cell (default 3)
 *   --warmup S        load before measuring, seconds (default 0.5)
 *   --runs N          runs, medians reported (default 3)
 *   --mtu LIST        default 1500,9000
 *   --windows LIST    default 1,16,64 (frames in flight)
 *   --modes LIST      read,write,randread,randwrite (default all)
 *   --store LIST      memory,disk (default both)
 *   --disk-modes LIST default randread;  --disk-windows LIST  default 16
 *   --targets LIST    aoede,vblade64,vblade,null (default all; vblade* need vblade)
 *   --no-initiator    skip AoEde's initiator beside the native load generator
 *   --spin US         the load generator polls without sleeping for US µs after each
 *                     reply (default 0: it blocks; spinning takes a CPU from the target)
 *   --verify-size SZ  region of the --verify pass (default 16M; 0: skip it)
 *   --idle S          idle measurement of aoede serve, seconds (default 10; 0: skip)
 *   --mem-size SIZE   memory-backed file (default 512M)
 *   --disk-size SIZE  disk-backed file (default 2G)
 *   --aoede-bufcnt N  aoede serve -b (default 64)
 *   --binary PATH     the aoede executable to test (default: build one from this checkout)
 *   --source          run aoede from source (bun src/cli/main.ts) instead of compiled
 *   --json FILE       write every raw result as JSON
 *   --markdown FILE   write the report as Markdown (the README's Benchmarks section)
 *   --pin             pin: the target on the first half of the CPUs, the load generator
 *                     on the other half (taskset); --target-cpus L / --load-cpus L choose
 *   --rt              target and load generator at a real-time priority (chrt -f 10):
 *                     other work on the machine cannot take their CPUs (a documented
 *                     option, like --pin; the goals must hold without it)
 *   --quick           a short pass over every cell: 1 run of 0.5 s, 256 MiB files, idle 2 s
 *   --smoke           seconds, for the test suite: MTU 1500, window 16, memory only
 *
 * Pinning is an option, not the default: users run unpinned. On a 2-CPU VM an
 * unpinned run varies by +-30 % from run to run (the threads of both processes
 * land on either vCPU); pinned, runs agree within a few %.
 */
import { spawn } from "bun";
import { writeFileSync } from "node:fs";
import { makeVethWorld, netnsUnavailable, sweepStale, type VethWorld } from "../src/net/netns.ts";
import { nativeTool, runLoadgen, type LoadgenMode } from "./native.ts";
import { parseOptions, type Options, type Store } from "./options.ts";
import {
  aoede, chooseAoede, choosePinning, cleanupSync, cpuNsOf, haveVblade, machine, memOf, pin, SHELF, SLOT, startTarget, TARGET_NAME, targetLabel, track, worlds, writeImage,
  type RunningTarget,
} from "./procs.ts";
import { buildReport, cellKey, type Extras, type Results } from "./report.ts";
import { treeVersusRead } from "./tree.ts";
import { num } from "../src/bench/format.ts";

/** when the second idle window starts, s after start-up (Bun's GC timer is quiet by then) */
const IDLE_SETTLE_S = 40;
const log = (s: string) => process.stdout.write(s + "\n");
const warn = (s: string) => process.stderr.write(`bench: ${s}\n`);

/** One loadgen cell against a running target; undefined when it printed no result. */
async function cell(t: RunningTarget, w: VethWorld, o: Options, mode: LoadgenMode, window: number, results: Results, store: Store, mtu: number) {
  let cpu0 = NaN;
  let cpu = NaN;
  const run = await runLoadgen(
    [...pin.load, ...w.prefix(w.nsB)],
    { iface: w.ifB, target: `${SHELF}.${SLOT}`, mode, window, durationS: o.durationS, warmupS: o.warmupS, spinUs: o.spinUs || undefined },
    (p) => (p === "begin" ? (cpu0 = cpuNsOf(t.pid)) : (cpu = (cpuNsOf(t.pid) - cpu0) / 1e9)),
    track,
  );
  if (!run.result) {
    warn(`${targetLabel(t.kind, o)} ${mode} w${window} MTU ${mtu}: the load generator exited ${run.code} without a result:\n${run.stderr}\ntarget output:\n${t.output()}`);
    return undefined;
  }
  const r = run.result;
  if (r.errors || r.timeouts) warn(`${targetLabel(t.kind, o)} ${mode} w${window} MTU ${mtu}: ${r.errors} errors, ${r.timeouts} timeouts (${r.first_error})`);
  const k = cellKey(store, mtu, t.kind, mode, window);
  if (!results.has(k)) results.set(k, []);
  results.get(k)!.push({ r, targetCpuS: cpu, targetRssKiB: memOf(t.pid)?.rss ?? NaN });
  return r;
}

/** `aoede bench` (AoEde's initiator) reading sequentially at `window`: frames/s, p50, resends. */
async function initiatorRun(w: VethWorld, o: Options, window: number): Promise<{ fps: number; p50: number; resends: number } | undefined> {
  const argv = [...pin.load, ...w.prefix(w.nsB), ...aoede.cmd, "bench", TARGET_NAME, "-i", w.ifB, "--json", "-w", "seqread", "--window", String(window), "--duration", String(o.durationS), "--warmup", String(o.warmupS), "--timeout", "5000"];
  const proc = spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  track(proc, true);
  try {
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    for (const line of out.split("\n")) {
      try {
        const m = JSON.parse(line);
        if (m.type === "result") return { fps: m.iops * m.framesPerRequest, p50: m.p50Us, resends: m.resends };
      } catch {
        // not JSON
      }
    }
    warn(`aoede bench w${window} exited ${code} without a result:\n${err}`);
    return undefined;
  } finally {
    track(proc, false);
  }
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2), import.meta.path);
  const why = netnsUnavailable();
  if (why) {
    warn(why);
    return 1;
  }
  if (!haveVblade() && o.targets.some((t) => t.startsWith("vblade"))) {
    warn("vblade is not installed (apt-get install vblade): comparing against nothing but the null target");
    o.targets = o.targets.filter((t) => !t.startsWith("vblade"));
  }
  const loadgen = nativeTool("loadgen");
  nativeTool("nulltarget");
  const swept = sweepStale("bnch");
  if (swept.length) warn(`removed ${swept.length} namespaces left by a killed run`);
  const startedAt = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  chooseAoede(o);
  choosePinning(o);
  const x: Extras = { startedAt, machine: machine(), initiator: [], verify: [] };
  log(`AoEde bench, ${startedAt}`);
  log(`machine:   ${x.machine}`);
  log(`aoede:     ${aoede.description}`);
  log(`load:      ${loadgen} (bench/native/loadgen.c)`);
  log(`CPUs:      ${pin.description}`);
  if (o.targets.some((t) => t.startsWith("vblade"))) log(`vblade:    ${haveVblade()} (Debian vblade 25)`);
  log(`plan:      MTU ${o.mtus.join(", ")}; ${o.stores.join(", ")}; ${o.targets.join(", ")}; memory: ${o.modes.join(", ")} at windows ${o.windows.join(", ")}` +
    (o.stores.includes("disk") ? `; disk: ${o.diskModes.join(", ")} at windows ${o.diskWindows.join(", ")}` : "") +
    `; ${o.runs} run(s) of ${o.durationS} s (+${o.warmupS} s warm-up)`);

  const images = new Map<Store, string>();
  // aoede serve's verify, idle and tree parts use the memory-backed file whatever --store says
  const needMemory = o.stores.includes("memory") || o.targets.includes("aoede");
  if (needMemory) {
    const p = `/dev/shm/aoede-bench-${process.pid}.img`;
    writeImage(p, o.memBytes);
    images.set("memory", p);
  }
  if (o.stores.includes("disk")) {
    const p = `/var/tmp/aoede-bench-${process.pid}.img`;
    const t0 = performance.now();
    writeImage(p, o.diskBytes);
    log(`disk file: ${p}, ${(o.diskBytes / 2 ** 20).toFixed(0)} MiB of random data written and synced in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    images.set("disk", p);
  }
  const world = makeVethWorld("bnch", o.mtus[0]);
  worlds.add(world);
  log(`world:     ${world.nsA} (target, ${world.ifA}) <-> ${world.nsB} (load, ${world.ifB})`);

  const results: Results = new Map();
  let aoedeHwm = 0;
  const t0 = performance.now();
  const plan = (store: Store) => ({ kinds: o.targets.filter((k) => store === "memory" || k !== "null"), modes: store === "memory" ? o.modes : o.diskModes, windows: store === "memory" ? o.windows : o.diskWindows });
  const total = o.mtus.length * o.runs * o.stores.reduce((n, s) => n + plan(s).kinds.length, 0);
  let done = 0;

  for (const mtu of o.mtus) {
    world.setMtu(mtu);
    for (const store of o.stores) {
      const { kinds, modes, windows } = plan(store);
      for (let run = 0; run < o.runs; run++) {
        for (const k of kinds.map((_, i) => kinds[(i + run) % kinds.length]!)) {
          const t = await startTarget(k, store, images.get(store) ?? "", world, o);
          const brief: string[] = [];
          try {
            for (const window of windows)
              for (const mode of modes) {
                const r = await cell(t, world, o, mode, window, results, store, mtu);
                if (r) brief.push(`${mode} w${window} ${mode.startsWith("rand") ? `${num(r.iops / 1000)}k IOPS` : `${num(r.mbps)} MB/s`}`);
              }
            if (k === "aoede") {
              const m = memOf(t.pid);
              if (m && m.hwm > aoedeHwm) [aoedeHwm, x.aoedeAnonKiB, x.aoedeFileKiB] = [m.hwm, m.anon, m.file];
            }
          } finally {
            await t.stop();
          }
          done++;
          const el = (performance.now() - t0) / 1000;
          process.stderr.write(`[${done}/${total} ${el.toFixed(0)} s, ~${((el / done) * (total - done)).toFixed(0)} s left] ${store} MTU ${mtu} run ${run + 1} ${targetLabel(k, o)}: ${brief.join(", ")}\n`);
        }
      }
    }

    if (o.verifySectors > 0 && o.targets.includes("aoede")) {
      const t = await startTarget("aoede", "memory", images.get("memory")!, world, o);
      try {
        const sectors = Math.min(o.verifySectors, Math.floor(o.memBytes / 512));
        for (const mode of ["write", "randread"] as const) {
          const run = await runLoadgen(
            [...pin.load, ...world.prefix(world.nsB)],
            { iface: world.ifB, target: `${SHELF}.${SLOT}`, mode, window: 16, durationS: Math.min(o.durationS, 1), region: `0:${sectors}`, verify: true, seed: 0x5eed + mtu },
            undefined,
            track,
          );
          x.verify.push({ store: "memory", mtu, target: "aoede", mode, r: run.result, code: run.code, stderr: run.stderr });
          if (run.code !== 0) warn(`--verify ${mode} against serve at MTU ${mtu} FAILED (exit ${run.code}):\n${run.stderr}`);
        }
      } finally {
        await t.stop();
      }
    }

    if (o.initiator && o.targets.includes("null")) {
      for (let run = 0; run < o.runs; run++) {
        const t = await startTarget("null", "memory", "", world, o);
        try {
          for (const window of o.windows) {
            // take turns: which one goes first changes from run to run
            const native = async () => (await cell(t, world, o, "read", window, new Map(), "memory", mtu)) ?? undefined;
            const ini = () => initiatorRun(world, o, window);
            let n, a;
            if (run % 2 === 0) [n, a] = [await native(), await ini()];
            else [a, n] = [await ini(), await native()];
            if (n && a) x.initiator.push({ mtu, window, nativeFps: n.frames_per_s, initiatorFps: a.fps, nativeP50: n.p50_us, initiatorP50: a.p50, initiatorResends: a.resends });
          }
        } finally {
          await t.stop();
        }
        process.stderr.write(`initiator vs native load generator, MTU ${mtu} run ${run + 1}: ${x.initiator.filter((i) => i.mtu === mtu).slice(-o.windows.length).map((i) => `w${i.window} ${(i.initiatorFps / i.nativeFps).toFixed(2)}x`).join(", ")}\n`);
      }
    }
  }
  if (o.targets.includes("aoede") && aoedeHwm) x.aoedeHwmKiB = aoedeHwm;

  if (o.targets.includes("aoede")) {
    world.setMtu(o.mtus[0]!);
    x.tree = await treeVersusRead(world, o, images.get("memory")!, o.mtus[0]!, warn);
  }

  if (o.idleS > 0 && o.targets.includes("aoede")) {
    world.setMtu(o.mtus[0]!);
    /** CPU % of windows of --idle seconds starting `fromS` after start */
    const idle = async (env: Record<string, string>, windows: number[]): Promise<{ pct: number[]; rss?: number }> => {
      const t = await startTarget("aoede", "memory", images.get("memory")!, world, o, env);
      const started = performance.now();
      const pct: number[] = [];
      try {
        for (const fromS of windows) {
          const wait = fromS * 1000 - (performance.now() - started);
          if (wait > 0) await Bun.sleep(wait);
          const a = cpuNsOf(t.pid);
          const w0 = performance.now();
          await Bun.sleep(o.idleS * 1000);
          pct.push(((cpuNsOf(t.pid) - a) / ((performance.now() - w0) * 1e6)) * 100);
        }
        return { pct, rss: memOf(t.pid)?.rss };
      } finally {
        await t.stop();
      }
    };
    // Bun's 1 Hz GC timer runs for about half a minute after the last activity, then goes quiet
    const settle = o.smoke || o.quick ? o.idleS + 1 : IDLE_SETTLE_S;
    const plain = await idle({}, [Math.min(2, o.idleS), settle]);
    [x.idleCpuPct, x.idleSettledPct, x.idleSettleS, x.idleRssKiB, x.idleS] = [plain.pct[0], plain.pct[1], settle, plain.rss, o.idleS];
    x.idleNoGcTimerPct = (await idle({ BUN_GC_TIMER_DISABLE: "1" }, [Math.min(2, o.idleS)])).pct[0];
  }

  const report = buildReport(results, o, x);
  log("");
  log(report.text);
  if (x.idleCpuPct !== undefined) {
    log(
      `idle: aoede serve used ${x.idleCpuPct.toFixed(3)} % CPU in the ${x.idleS} s after start-up and ${x.idleSettledPct?.toFixed(3)} % from ${x.idleSettleS} s on ` +
        `(all threads, /proc/PID/task/*/schedstat), RSS ${((x.idleRssKiB ?? 0) / 1024).toFixed(1)} MiB; ` +
        `with Bun's 1 Hz GC timer off (BUN_GC_TIMER_DISABLE=1) ${x.idleNoGcTimerPct?.toFixed(3)} % after start-up`,
    );
  }
  if (x.tree) {
    const t = x.tree;
    log(
      `tree: aoede read ${num(t.readMbps)} MB/s; dd bs=1M from the aoe(3) tree's data ${num(t.ddCachedMbps)} MB/s (page cache) and ` +
        `${num(t.ddDirectMbps)} MB/s (iflag=direct); ${t.mib} MiB of ${TARGET_NAME} each, MTU ${t.mtu}, in namespace B`,
    );
  }
  log(
    "notes: figures are MB/s for read and write (the largest frame the MTU allows), IOPS for randread and randwrite (4 KiB); " +
      "the ceiling is the native null target's figure for the same MTU, mode and window; ratios are the first over the second (above 1: the first is faster). " +
      "failures: errors + timeouts + verify failures the load generator counted. Target CPU s: CPU seconds the target used while measured (all threads). " +
      "The load generator runs on the same machine: it shares the CPUs with the target.",
  );
  log(`total time: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const head = `Measured ${startedAt} on ${x.machine}; \`aoede\`: ${aoede.description}. ${o.runs} run(s) of ${o.durationS} s per cell (+${o.warmupS} s warm-up), medians; targets took turns in every run; ${pin.description}.`;
  if (o.json) {
    writeFileSync(o.json, JSON.stringify({ startedAt, machine: x.machine, aoede: aoede.description, pinning: pin.description, options: o, results: Object.fromEntries(results), extras: x, goals: report.goals }, null, 1));
    log(`raw results: ${o.json}`);
  }
  if (o.markdown) {
    writeFileSync(o.markdown, `${head}\n\n${report.markdown}`);
    log(`markdown: ${o.markdown}`);
  }
  const failedVerify = x.verify.filter((v) => v.code !== 0).length;
  if (failedVerify) warn(`${failedVerify} --verify pass(es) against serve failed: the figures of a target that loses data mean nothing`);
  return failedVerify ? 1 : 0;
}

main().then(
  (code) => {
    cleanupSync();
    process.exit(code);
  },
  (e) => {
    warn(`FAILED: ${(e as Error)?.stack ?? e}`);
    cleanupSync();
    process.exit(1);
  },
);

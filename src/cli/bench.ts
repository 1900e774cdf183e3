/**
 * `aoede bench TARGET`: measure a target on the LAN with AoEde's initiator as the
 * load generator — sequential and random 4 KiB reads (and, with --write, writes)
 * at a fixed queue depth for a fixed time: MB/s, IOPS, p50/p99 latency, resends.
 *
 * `aoede bench --null-target TARGET -i IFACE`: run a target that does no disk I/O
 * at all (reads are zeroes, writes are dropped) to measure the ceiling of the
 * network and the initiator between two hosts.
 *
 * `bun run bench` (bench/run.ts) drives both, against `aoede serve` and vblade,
 * in private network namespaces.
 */
import { defineCommand } from "citty";
import { parseMs, parseSize, repeated, UsageError } from "../initiator/cliutil.ts";

const WORKLOAD_NAMES = ["seqread", "seqwrite", "randread", "randwrite"];

export default defineCommand({
  meta: {
    name: "bench",
    description:
      "Measure a target: sequential and random 4 KiB reads (writes with --write) for a fixed time; MB/s, IOPS, latency. " +
      "Read-only unless --write. Example: sudo aoede bench e9.0 -i eth0 --duration 10",
  },
  args: {
    target: { type: "positional", required: false, description: "e<shelf>.<slot> (required)" },
    iface: { type: "string", alias: "i", valueHint: "IFACE", description: "interface to use; repeat for several (default: every Ethernet interface that is up)" },
    workloads: {
      type: "string",
      alias: "w",
      valueHint: "list",
      description: "comma-separated, of seqread, seqwrite, randread, randwrite (default: seqread,randread; with --write all four)",
    },
    write: { type: "boolean", description: "allow the write workloads: they OVERWRITE the target's data" },
    duration: { type: "string", alias: "t", valueHint: "S", description: "measured seconds per workload (default 5)" },
    warmup: { type: "string", valueHint: "S", description: "seconds of load before measuring (default 1)" },
    window: { type: "string", valueHint: "FRAMES", description: "frames in flight (default and at most: the target's buffer count, capped at 128)" },
    span: { type: "string", valueHint: "SIZE", description: "use only the first SIZE bytes of the device (default: all of it)" },
    timeout: { type: "string", valueHint: "MS", description: "how long to wait for the target to answer Query Config, ms (default 2000)" },
    json: { type: "boolean", description: "print one JSON object per line (target, begin, end, result) instead of the table" },
    "null-target": { type: "boolean", description: "instead: serve TARGET on -i IFACE with no storage (reads are zeroes, writes are dropped) until SIGTERM" },
    bufcnt: { type: "string", alias: "b", valueHint: "n", description: "--null-target: advertised buffer count (default 64)" },
    size: { type: "string", valueHint: "SIZE", description: "--null-target: advertised size (default 1G)" },
  },
  async run({ args, rawArgs }) {
    try {
      const { parseTargetName } = await import("../initiator/name.ts");
      if (!args.target) throw new UsageError("which target? usage: aoede bench TARGET [-i IFACE] [--write] [--duration S]");
      const addr = parseTargetName(String(args.target));
      if (!addr) throw new UsageError(`"${args.target}" is not a target name: use e<shelf>.<slot>, such as e9.0`);
      const interfaces = repeated(rawArgs, "i", "iface");
      if (args["null-target"]) {
        if (interfaces.length !== 1) throw new UsageError("--null-target serves on exactly one interface: give -i IFACE");
        const bufcnt = args.bufcnt === undefined ? 64 : Number(args.bufcnt);
        if (!Number.isInteger(bufcnt) || bufcnt < 1 || bufcnt > 65535) throw new UsageError(`--bufcnt "${args.bufcnt}" is not a count from 1 to 65535`);
        const size = parseSize(String(args.size ?? "1G"), "--size");
        const { runNullTarget } = await import("../bench/cli.ts");
        process.exit(await runNullTarget({ ...addr, iface: interfaces[0]!, bufcnt, sectors: Math.floor(size / 512) }));
      }
      let workloads = args.workloads
        ? String(args.workloads)
            .split(",")
            .map((w) => w.trim())
            .filter(Boolean)
        : args.write
          ? WORKLOAD_NAMES
          : ["seqread", "randread"];
      for (const w of workloads) {
        if (!WORKLOAD_NAMES.includes(w)) throw new UsageError(`unknown workload "${w}": use ${WORKLOAD_NAMES.join(", ")}`);
      }
      workloads = [...new Set(workloads)];
      if (!args.write && workloads.some((w) => w.endsWith("write"))) {
        throw new UsageError("write workloads overwrite the target's data: add --write if that is what you want");
      }
      const window = args.window === undefined ? undefined : Number(args.window);
      if (window !== undefined && (!Number.isInteger(window) || window < 1)) throw new UsageError(`--window "${args.window}" is not a positive whole number`);
      const { runBench } = await import("../bench/cli.ts");
      process.exit(
        await runBench({
          ...addr,
          interfaces,
          workloads: workloads as never,
          durationMs: parseMs(args.duration as string | undefined, "--duration", 5) * 1000,
          warmupMs: args.warmup === "0" ? 0 : parseMs(args.warmup as string | undefined, "--warmup", 1) * 1000,
          window,
          spanBytes: args.span === undefined ? undefined : parseSize(String(args.span), "--span"),
          timeoutMs: parseMs(args.timeout as string | undefined, "--timeout", 2000),
          json: args.json === true,
        }),
      );
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      process.stderr.write(`aoede bench: ${e.message}\n`);
      process.exit(2);
    }
  },
});

/**
 * `aoede top [-n SECS] [--count N] [--json] [NAME...]`: the daemon's live view, as
 * ggaoectl monitor or iostat: per export reads and writes per second, kB/s, other
 * commands, requests in flight and queued, errors, requests per initiator MAC; per
 * interface frames and kB/s each way and drops. The first block is the average
 * since the daemon started. NAME: export or interface names (globs).
 */
import { defineCommand } from "citty";
import { request, runControl, socketPath } from "../daemon/client.ts";
import { formatTop, rates } from "../daemon/format.ts";
import type { StatsReply } from "../daemon/protocol.ts";
import { socketArgs } from "./ctl.ts";

function positive(what: string, v: unknown, integer: boolean): number | string {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) return `${what} must be a positive ${integer ? "whole " : ""}number, not "${v}"`;
  return n;
}

export default defineCommand({
  meta: { name: "top", description: "Live per-export and per-interface rates of the running daemon. Example: aoede top -n 2 disk0" },
  args: {
    interval: { type: "string", alias: "n", valueHint: "secs", description: "seconds between blocks (default 1)" },
    count: { type: "string", valueHint: "n", description: "stop after this many blocks (default: until interrupted)" },
    json: { type: "boolean", description: "one JSON object per block, one per line" },
    ...socketArgs,
  },
  run: ({ args }) =>
    runControl("top", async () => {
      const interval = positive("-n", args.interval ?? 1, false);
      const count = args.count === undefined ? Infinity : positive("--count", args.count, true);
      for (const v of [interval, count]) {
        if (typeof v === "string") {
          process.stderr.write(`aoede top: ${v}\n`);
          return 2;
        }
      }
      const names = (args._ as string[]).map(String);
      const sock = socketPath({ socket: args.socket, config: args.config });
      let prev: StatsReply | undefined;
      for (let n = 0; n < (count as number); n++) {
        if (n > 0) await Bun.sleep((interval as number) * 1000);
        const r = await request(sock, { cmd: "stats" });
        if (!r.ok) {
          process.stderr.write(`aoede top: ${r.error}\n`);
          return 1;
        }
        const now = r as StatsReply;
        const t = rates(prev, now, names);
        process.stdout.write(args.json ? JSON.stringify(t) + "\n" : formatTop(t));
        prev = now;
      }
      return 0;
    }),
});

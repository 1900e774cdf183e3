/**
 * `aoede reserve TARGET [--set MAC,... | --force MAC,... | --release]`: the
 * target's reserve list. Without options, print it. --set reserves the target
 * for these MACs (fails when another initiator holds it); --force takes it
 * regardless ("--force ''" clears it); --release gives it up. "self" in a list
 * stands for the MACs of the interfaces in use.
 */
import { defineCommand } from "citty";
import { commonArgs, commonOptions, jsonArg, runCommand, UsageError } from "../initiator/cliutil.ts";
import { ReserveCmd, reserve } from "../initiator/manage.ts";
import { formatMac, parseMac } from "../aoe/mac.ts";
import { aoeErrorText } from "../initiator/errors.ts";
import { AoEError } from "../aoe/constants.ts";

export default defineCommand({
  meta: { name: "reserve", description: "Read, set, force or release a target's reservation. Example: aoede reserve e9.0 --set self" },
  args: {
    target: { type: "positional", required: false, description: "e<shelf>.<slot> (required)" },
    set: { type: "string", valueHint: "MAC,...", description: "reserve for these MACs unless another initiator holds it" },
    force: { type: "string", valueHint: "MAC,...", description: "reserve for these MACs regardless" },
    release: { type: "boolean", description: "release the reservation (only its holder can)" },
    ...commonArgs,
    ...jsonArg,
  },
  run: ({ args, rawArgs }) => {
    let rcmd: number = ReserveCmd.Read;
    let list: string[] = [];
    return runCommand("reserve", () => {
      if (!args.target) throw new UsageError("which target? usage: aoede reserve TARGET [--set|--force MAC,...|--release]");
      const modes = [args.set !== undefined, args.force !== undefined, args.release === true].filter(Boolean).length;
      if (modes > 1) throw new UsageError("give at most one of --set, --force, --release");
      if (args.set !== undefined) rcmd = ReserveCmd.Set;
      if (args.force !== undefined) rcmd = ReserveCmd.ForceSet;
      if (args.release) rcmd = ReserveCmd.Set;
      const text = String(args.set ?? args.force ?? "");
      list = text.split(",").map((m) => m.trim()).filter((m) => m !== "");
      if (rcmd === ReserveCmd.Set && !args.release && list.length === 0) throw new UsageError("--set needs at least one MAC");
      for (const m of list) {
        if (m === "self") continue;
        try {
          parseMac(m);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      }
      return commonOptions(args, rawArgs);
    }, async (s, o) => {
      const t = await s.find(String(args.target), o.timeoutMs);
      const macs = list.flatMap((m) => (m === "self" ? s.links.map((l) => l.mac) : [parseMac(m)]));
      const r = await reserve(s.ini, t, rcmd, macs);
      const current = r.macs.map(formatMac);
      if (r.error !== undefined) {
        const why = r.error === AoEError.TargetReserved ? `reserved by ${current.join(", ") || "another initiator"}` : aoeErrorText(r.error);
        process.stderr.write(`aoede reserve: ${t.name}: ${why}\n`);
        return 1;
      }
      process.stdout.write(args.json ? JSON.stringify({ target: t.name, macs: current }) + "\n" : current.map((m) => m + "\n").join(""));
    });
  },
});

/**
 * `aoede stat [-i ...] [TARGET] [--json]`: without a target, aoe-stat's table
 * (device, size, interfaces, payload, state) of every target that answers;
 * with one (e9.0 or 9.0), Plan 9's ctl text and one devlink block per local
 * interface, as this session sees them.
 */
import { defineCommand } from "citty";
import { commonArgs, commonOptions, hintNothingFound, jsonArg, runCommand } from "../initiator/cliutil.ts";
import { formatTargetStat } from "../initiator/ctl.ts";
import { statRowJson, targetStatusJson } from "../initiator/json.ts";
import { formatStatTable } from "../initiator/table.ts";
import { statRow } from "../initiator/views.ts";

export default defineCommand({
  meta: { name: "stat", description: "Target status: aoe-stat's table, or one target's Plan 9 ctl and devlink text. Examples: aoede stat; aoede stat e9.0 --json" },
  args: {
    target: { type: "positional", required: false, description: "e<shelf>.<slot> (or shelf.slot)" },
    ...commonArgs,
    ...jsonArg,
    targets: { type: "boolean", description: "what the local daemon exports (its control socket; -s/-c choose it), in discover's columns" },
    socket: { type: "string", alias: "s", valueHint: "path", description: "with --targets: the daemon's control socket" },
    config: { type: "string", alias: "c", valueHint: "file", description: "with --targets: the daemon's config file" },
  },
  run: async ({ args, rawArgs }) =>
    args.targets
      ? (await import("../daemon/targets-cli.ts")).printTargets(args)
      : // IDENTIFY of a silent target should not hold the table for 45 s.
    runCommand("stat", () => commonOptions(args, rawArgs, args.target ? 45 : 5), async (s, o) => {
      if (args.target) {
        const t = await s.open(String(args.target), o.timeoutMs);
        const st = t.status();
        process.stdout.write(args.json ? JSON.stringify(targetStatusJson(st), null, 2) + "\n" : formatTargetStat(st));
        return;
      }
      const targets = await s.discover(o.timeoutMs);
      if (targets.length === 0) hintNothingFound("stat", s.links.map((l) => l.name), o.timeoutMs);
      const up = await Promise.all(
        targets.map((t) =>
          s.ini.identify(t).then(
            () => true,
            () => false,
          ),
        ),
      );
      const rows = targets.map((t, i) => statRow(t, up[i]!));
      process.stdout.write(args.json ? JSON.stringify(rows.map(statRowJson), null, 2) + "\n" : formatStatTable(rows));
    }),
});

/**
 * `aoede stat [-i ...] [TARGET] [--json]`: without a target, aoe-stat's table
 * (device, size, interfaces, payload, state) of every target that answers;
 * with one (e9.0 or 9.0), Plan 9's ctl text and one devlink block per local
 * interface. When an aoe(3) tree is mounted (`aoede mount`) and no -i is
 * given, both come from the tree's files: the live counters of the running
 * initiator, with no session of its own.
 */
import { defineCommand } from "citty";
import { commonArgs, commonOptions, hintNothingFound, jsonArg, repeated, runCommand } from "../initiator/cliutil.ts";
import { formatTargetStat } from "../initiator/ctl.ts";
import { statRowJson, targetStatusJson } from "../initiator/json.ts";
import { formatTargetName, parseTargetName } from "../initiator/name.ts";
import { formatStatTable } from "../initiator/table.ts";
import { statRow } from "../initiator/views.ts";
import { readTree, readTreeTarget, treeStatRow } from "../tree/read.ts";
import { findMountedTrees } from "../tree/runtime.ts";

/** Prints from a mounted tree; the exit status, or undefined to fall back to a session. */
function fromTree(dir: string, target: string | undefined, json: boolean): number {
  if (target) {
    const a = parseTargetName(target);
    if (!a) {
      process.stderr.write(`aoede stat: "${target}" is not a target name: use e<shelf>.<slot>, such as e9.0\n`);
      return 2;
    }
    const st = readTreeTarget(dir, a.shelf, a.slot);
    if (!st) {
      process.stderr.write(`aoede stat: target ${formatTargetName(a)} is not in the tree mounted at ${dir}\n`);
      return 1;
    }
    process.stdout.write(json ? JSON.stringify(targetStatusJson(st), null, 2) + "\n" : formatTargetStat(st));
    return 0;
  }
  const rows = readTree(dir).map(treeStatRow);
  process.stdout.write(json ? JSON.stringify(rows.map(statRowJson), null, 2) + "\n" : formatStatTable(rows));
  return 0;
}

export default defineCommand({
  meta: { name: "stat", description: "Target status: aoe-stat's table, or one target's Plan 9 ctl and devlink text (from a mounted aoe(3) tree when one runs). Examples: aoede stat; aoede stat e9.0 --json" },
  args: {
    target: { type: "positional", required: false, description: "e<shelf>.<slot> (or shelf.slot)" },
    ...commonArgs,
    ...jsonArg,
    targets: { type: "boolean", description: "what the local daemon exports (its control socket; -s/-c choose it), in discover's columns" },
    socket: { type: "string", alias: "s", valueHint: "path", description: "with --targets: the daemon's control socket" },
    config: { type: "string", alias: "c", valueHint: "file", description: "with --targets: the daemon's config file" },
  },
  run: async ({ args, rawArgs }) => {
    if (args.targets) return (await import("../daemon/targets-cli.ts")).printTargets(args);
    const tree = repeated(rawArgs, "i", "iface").length === 0 ? findMountedTrees()[0] : undefined;
    if (tree) process.exit(fromTree(tree, args.target ? String(args.target) : undefined, Boolean(args.json)));
    // IDENTIFY of a silent target should not hold the table for 45 s.
    return runCommand("stat", () => commonOptions(args, rawArgs, args.target ? 45 : 5), async (s, o) => {
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
    });
  },
});

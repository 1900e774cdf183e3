/**
 * `aoede mask TARGET [--add MAC]... [--del MAC]...`: the target's Mac Mask
 * list. Without options, print it; the edits apply in command-line order, and
 * the list after them is printed, one MAC per line. A non-empty list limits
 * which initiators the target answers: add your own MAC first.
 */
import { defineCommand } from "citty";
import { commonArgs, commonOptions, jsonArg, repeatedInOrder, runCommand, UsageError } from "../initiator/cliutil.ts";
import { DirectiveCmd, macMask, maskErrorText } from "../initiator/manage.ts";
import { formatMac, parseMac } from "../aoe/mac.ts";
import type { Directive } from "../aoe/macmask.ts";

export default defineCommand({
  meta: { name: "mask", description: "Read or edit a target's Mac Mask list. Example: aoede mask e9.0 --add 00:11:22:33:44:55 --del 00:11:22:33:44:66" },
  args: {
    target: { type: "positional", required: false, description: "e<shelf>.<slot> (required)" },
    add: { type: "string", valueHint: "MAC", description: "add MAC to the list (repeatable)" },
    del: { type: "string", valueHint: "MAC", description: "delete MAC from the list (repeatable)" },
    ...commonArgs,
    ...jsonArg,
  },
  run: ({ args, rawArgs }) => {
    let edits: Directive[] = [];
    return runCommand("mask", () => {
      if (!args.target) throw new UsageError("which target? usage: aoede mask TARGET [--add MAC] [--del MAC]");
      edits = repeatedInOrder(rawArgs, ["add", "del"]).map(([k, v]) => {
        let mac;
        try {
          mac = parseMac(v);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        return { dcmd: k === "add" ? DirectiveCmd.Add : DirectiveCmd.Delete, mac };
      });
      if (edits.length > 255) throw new UsageError("at most 255 edits at once");
      return commonOptions(args, rawArgs);
    }, async (s, o) => {
      const t = await s.find(String(args.target), o.timeoutMs);
      const r = await macMask(s.ini, t, edits);
      if (r.merror !== 0) {
        const at = r.failedAt !== undefined && edits[r.failedAt] ? edits[r.failedAt]! : undefined;
        const which = at ? ` at ${at.dcmd === DirectiveCmd.Add ? "--add" : "--del"} ${formatMac(at.mac)}` : "";
        process.stderr.write(`aoede mask: ${t.name}: edit failed${which}: ${maskErrorText(r.merror)}\n`);
        return 1;
      }
      const macs = r.macs.map(formatMac);
      process.stdout.write(args.json ? JSON.stringify({ target: t.name, macs }) + "\n" : macs.map((m) => m + "\n").join(""));
    });
  },
});

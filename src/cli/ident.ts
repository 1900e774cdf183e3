/**
 * `aoede ident TARGET [--raw] [--json]`: the target's IDENTIFY DEVICE data,
 * decoded, or the 512 bytes as they came (--raw, for hdparm --Istdin and the like).
 */
import { defineCommand } from "citty";
import { commonArgs, commonOptions, jsonArg, runCommand, UsageError, writeAll } from "../initiator/cliutil.ts";

export default defineCommand({
  meta: { name: "ident", description: "IDENTIFY DEVICE: decoded, or the raw 512 bytes. Example: aoede ident e9.0 --raw > e9.0.ident" },
  args: {
    target: { type: "positional", required: false, description: "e<shelf>.<slot> (required)" },
    raw: { type: "boolean", description: "write the 512 bytes to stdout" },
    ...commonArgs,
    ...jsonArg,
  },
  run: ({ args, rawArgs }) =>
    runCommand("ident", () => {
      if (!args.target) throw new UsageError("which target? usage: aoede ident TARGET [--raw]");
      return commonOptions(args, rawArgs);
    }, async (s, o) => {
      const t = await s.open(String(args.target), o.timeoutMs);
      if (args.raw) return void (await writeAll(1, t.identifyRaw!));
      const id = t.identify!;
      const info = {
        target: t.name,
        model: id.model,
        serial: id.serial,
        firmware: id.firmware,
        sectors: id.sectors,
        sizeBytes: id.sectors * 512,
        lba48: id.lba48,
        flush: id.flush,
        flushExt: id.flushExt,
        writeCache: id.writeCache,
      };
      if (args.json) return void process.stdout.write(JSON.stringify(info, null, 2) + "\n");
      const yes = (b: boolean) => (b ? "yes" : "no");
      process.stdout.write(
        `target: ${t.name}\nmodel: ${id.model}\nserial: ${id.serial}\nfirmware: ${id.firmware}\n` +
          `sectors: ${id.sectors}\nsize: ${info.sizeBytes} bytes (${(info.sizeBytes / 1e9).toFixed(3)} GB)\n` +
          `lba48: ${yes(id.lba48)}\nflush cache: ${yes(id.flush)}\nflush cache ext: ${yes(id.flushExt)}\n` +
          `write cache: ${yes(id.writeCache)}\n`,
      );
    }),
});

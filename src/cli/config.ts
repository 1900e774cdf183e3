/**
 * `aoede config TARGET [--test S | --prefix S | --set S | --force S]`: the
 * Query Config string. Without an option, print it. --test and --prefix ask
 * the target whether its string equals / starts with S (exit 0 when it does,
 * 1 when it stays silent); --set stores S only if the string is empty;
 * --force stores it regardless.
 */
import { defineCommand } from "citty";
import { commonArgs, commonOptions, jsonArg, runCommand, UsageError } from "../initiator/cliutil.ts";
import { ConfigCmd, queryConfig } from "../initiator/manage.ts";
import { MAX_CONFIG_LEN } from "../aoe/config.ts";
import { AoEError } from "../aoe/constants.ts";
import { aoeErrorText } from "../initiator/errors.ts";

const MODES = [
  ["test", ConfigCmd.Test],
  ["prefix", ConfigCmd.TestPrefix],
  ["set", ConfigCmd.Set],
  ["force", ConfigCmd.ForceSet],
] as const;

export default defineCommand({
  meta: { name: "config", description: "Read, test or set a target's config string. Example: aoede config e9.0 --set \"rack 4\"" },
  args: {
    target: { type: "positional", required: false, description: "e<shelf>.<slot> (required)" },
    test: { type: "string", valueHint: "S", description: "succeed if the config string is exactly S" },
    prefix: { type: "string", valueHint: "S", description: "succeed if the config string starts with S" },
    set: { type: "string", valueHint: "S", description: "set the config string to S if it is empty" },
    force: { type: "string", valueHint: "S", description: "set the config string to S" },
    ...commonArgs,
    ...jsonArg,
  },
  run: ({ args, rawArgs }) => {
    let mode: (typeof MODES)[number] | undefined;
    let value = "";
    return runCommand("config", () => {
      if (!args.target) throw new UsageError("which target? usage: aoede config TARGET [--test|--prefix|--set|--force S]");
      const given = MODES.filter(([k]) => args[k] !== undefined);
      if (given.length > 1) throw new UsageError("give at most one of --test, --prefix, --set, --force");
      mode = given[0];
      if (mode) value = String(args[mode[0]]);
      if (new TextEncoder().encode(value).length > MAX_CONFIG_LEN) {
        throw new UsageError(`the config string is limited to ${MAX_CONFIG_LEN} bytes`);
      }
      return commonOptions(args, rawArgs);
    }, async (s, o) => {
      const t = await s.find(String(args.target), o.timeoutMs);
      const ccmd = mode ? mode[1] : ConfigCmd.Read;
      const r = await queryConfig(s.ini, t, ccmd, new TextEncoder().encode(value), o.timeoutMs);
      const show = (c: Uint8Array) => new TextDecoder().decode(c);
      if (args.json) {
        process.stdout.write(
          JSON.stringify({ target: t.name, match: r !== undefined, config: r ? show(r.config) : null, error: r?.error ?? null }) + "\n",
        );
      }
      if (r === undefined) {
        if (!args.json) process.stderr.write(`aoede config: ${t.name}: config string does not ${mode![0] === "test" ? "equal" : "start with"} "${value}"\n`);
        return 1;
      }
      if (r.error !== undefined) {
        if (!args.json) {
          const why =
            r.error === AoEError.ConfigStringPresent
              ? `config string is already "${show(r.config)}"; use --force to replace it`
              : aoeErrorText(r.error);
          process.stderr.write(`aoede config: ${t.name}: ${why}\n`);
        }
        return 1;
      }
      if (!args.json) process.stdout.write(show(r.config) + "\n");
    });
  },
});

/**
 * `aoede daemon [-c FILE] [--check]`: every export of the config file in one
 * process (src/daemon), and the aoe(3) tree if the file has an [initiator] table. Exit status: 0 after a clean stop (or a file that checks
 * out), 2 for a config file with mistakes (one line each, FILE:LINE: KEY: ...;
 * nothing is opened), 1 for anything else that prevents serving.
 */
import { defineCommand } from "citty";
import { DEFAULT_CONFIG_FILE } from "../daemon/config.ts";

export default defineCommand({
  meta: {
    name: "daemon",
    description:
      "Serve every export of a config file in one process (and, with an [initiator] table, mount the aoe(3) tree); " +
      "SIGHUP reloads it, SIGTERM/SIGINT stop cleanly. " +
      "Example: aoede daemon -c /etc/aoede/aoede.toml (see /etc/aoede/aoede.toml.sample)",
  },
  args: {
    config: { type: "string", alias: "c", valueHint: "file", description: `the config file (default ${DEFAULT_CONFIG_FILE})` },
    check: { type: "boolean", description: "check the config file and exit: 0 if good, 2 with one line per mistake" },
  },
  async run({ args }) {
    const file = args.config ?? DEFAULT_CONFIG_FILE;
    // Loaded only now: --help needs neither the FFI nor the loop.
    const { checkConfig, runDaemon } = await import("../daemon/run.ts");
    process.exit(args.check ? checkConfig(file) : await runDaemon(file));
  },
});

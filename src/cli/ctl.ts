/**
 * `aoede ctl stats|show-config|show-mask NAME|show-reserve NAME|reload`: ask the
 * running daemon over its control socket (-s PATH; else the control_socket of -c
 * FILE or of /etc/aoede/aoede.toml; else /run/aoede/aoede.sock). Exit status 0,
 * 1 when the daemon refuses or cannot be reached, 2 for a bad command line.
 */
import { defineCommand } from "citty";
import { request, runControl, socketPath } from "../daemon/client.ts";
import { formatMacList, formatStats } from "../daemon/format.ts";
import type { Request, StatsReply } from "../daemon/protocol.ts";

export const socketArgs = {
  socket: { type: "string", alias: "s", valueHint: "path", description: "the daemon's control socket (default: control_socket of the config file)" },
  config: { type: "string", alias: "c", valueHint: "file", description: "the daemon's config file, for its control_socket (default /etc/aoede/aoede.toml)" },
} as const;

const USAGE = "usage: aoede ctl stats|show-config|show-mask NAME|show-reserve NAME|reload [-s socket] [--json]";

export default defineCommand({
  meta: {
    name: "ctl",
    description: "Ask the running daemon: stats, show-config, show-mask NAME, show-reserve NAME, reload. Example: aoede ctl reload",
  },
  args: {
    command: { type: "positional", required: false, description: "stats, show-config, show-mask, show-reserve or reload (required)" },
    name: { type: "positional", required: false, description: "the export, for show-mask and show-reserve" },
    ...socketArgs,
    json: { type: "boolean", description: "print the daemon's JSON reply" },
  },
  run: ({ args }) =>
    runControl("ctl", async () => {
      const cmd = String(args.command ?? "");
      let req: Request;
      if (cmd === "show-mask" || cmd === "show-reserve") {
        if (!args.name) {
          process.stderr.write(`aoede ctl: ${cmd} needs the name of an export (${USAGE})\n`);
          return 2;
        }
        req = { cmd, name: String(args.name) };
      } else if (cmd === "stats" || cmd === "show-config" || cmd === "reload") {
        req = { cmd };
      } else {
        process.stderr.write(`aoede ctl: ${cmd ? `unknown command "${cmd}"` : "which command?"} (${USAGE})\n`);
        return 2;
      }
      const sock = socketPath({ socket: args.socket, config: args.config });
      const r = await request(sock, req, 120_000);
      if (!r.ok) {
        process.stderr.write(`aoede ctl ${cmd}: ${r.error}\n`);
        return 1;
      }
      if (args.json || cmd === "show-config") {
        process.stdout.write(JSON.stringify(r, null, 2) + "\n");
        return 0;
      }
      switch (cmd) {
        case "stats":
          process.stdout.write(formatStats(r as StatsReply));
          break;
        case "show-mask":
        case "show-reserve":
          process.stdout.write(formatMacList(String(args.name), r.macs as string[]));
          break;
        case "reload": {
          const list = (k: string) => (r[k] as string[]).join(", ") || "-";
          process.stdout.write(`reloaded: kept ${list("kept")}; reopened ${list("reopened")}; added ${list("added")}; removed ${list("removed")}\n`);
          break;
        }
      }
      return 0;
    }),
});

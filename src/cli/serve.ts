/**
 * `aoede serve`: export a file or block device over AoE, a drop-in for vblade.
 *
 * citty renders --help from the argument list below; the command line itself is
 * parsed by src/target/config.ts, because vblade's getopt conventions (-b64, -rd,
 * options after the operands) must work unchanged. Exit status: 0 after a clean
 * stop, 2 for a bad command line, 1 for anything else that prevents serving.
 */
import { defineCommand } from "citty";
import { parseServeArgs, UsageError } from "../target/config.ts";

export default defineCommand({
  meta: {
    name: "serve",
    description:
      "Export a file or block device as AoE target shelf.slot on netif (vblade's command line works unchanged). " +
      "SIGTERM/SIGINT stop cleanly; SIGUSR1 logs counters. " +
      "Example: aoede serve -b 64 --state-dir /var/lib/aoede 9 0 eth0 /srv/disk.img",
  },
  args: {
    shelf: { type: "positional", required: false, description: "shelf (major) address, 0-65534 (required)" },
    slot: { type: "positional", required: false, description: "slot (minor) address, 0-254 (required)" },
    netif: { type: "positional", required: false, description: "network interface to serve on (required)" },
    file: { type: "positional", required: false, description: "regular file or block device to export (required)" },
    bufcnt: { type: "string", alias: "b", valueHint: "n", description: "buffer count: advertised, and the most requests at the disk at once (default 16)" },
    direct: { type: "boolean", alias: "d", description: "open with O_DIRECT" },
    sync: { type: "boolean", alias: "s", description: "open with O_SYNC: every write is durable before its reply" },
    "read-only": { type: "boolean", alias: "r", description: "export read-only: writes fail" },
    mac: { type: "string", alias: "m", valueHint: "mac[,mac...]", description: "allow only these initiator MACs (the Mac Mask list)" },
    offset: { type: "string", alias: "o", valueHint: "sectors", description: "skip this many sectors at the start of the file" },
    length: { type: "string", alias: "l", valueHint: "sectors", description: "export this many sectors (default: the rest of the file)" },
    "state-dir": {
      type: "string",
      valueHint: "dir",
      description: "keep the config string, Mac Mask list and reservation here across restarts (-m overrides the saved list)",
    },
    "tag-tracking": {
      type: "string",
      valueHint: "rx|write|both",
      description:
        "drop ATA requests seen before with the same source MAC and tag (rx), acknowledge a repeated WRITE without " +
        "writing it again (write), or both. Off by default: UNSAFE with initiators whose tags do not increase",
    },
    model: { type: "string", valueHint: "text", description: "IDENTIFY model string (40 characters at most; default AoEde)" },
    serial: { type: "string", valueHint: "text", description: "IDENTIFY serial number (20 characters at most; default e<shelf>.<slot>)" },
  },
  run: ({ rawArgs }) => runServe(rawArgs, "aoede"),
});

/** vblade's usage line, word for word (vblade 25), for the drop-in name. */
const VBLADE_USAGE = "usage: vblade [-b bufcnt] [-o offset] [-l length] [-d ] [-s] [-r] [ -m mac[,mac...] ] shelf slot netif filename";

/**
 * Serve until a signal, then exit. `as` "vblade" (started under vblade's name):
 * messages and usage in vblade's words, and vblade's start-up line.
 */
export async function runServe(rawArgs: string[], as: "aoede" | "vblade"): Promise<never> {
  const prefix = as === "vblade" ? "vblade" : "aoede serve";
  let cfg;
  try {
    cfg = parseServeArgs(rawArgs);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (as === "vblade") process.stderr.write(`vblade: ${e.message}\n${VBLADE_USAGE}\n`);
    else process.stderr.write(`aoede serve: ${e.message} (usage: aoede serve [options] shelf slot netif file; see --help)\n`);
    process.exit(2);
  }
  // Loaded only now: the FFI and the loop are not needed to print a usage error.
  const { serve, ServeError } = await import("../target/server.ts");
  let status: number;
  try {
    status = await serve(cfg, as);
  } catch (e) {
    if (!(e instanceof ServeError)) throw e;
    process.stderr.write(`${prefix}: ${e.message}\n`);
    process.exit(e.usage ? 2 : 1);
  }
  process.exit(status);
}

/**
 * `aoede stat --targets`: what the local daemon exports, in `aoede discover`'s
 * columns (TARGET BUFCNT FW SECTORS PATHS CONFIG), PATHS being each interface
 * with the MAC the export answers from there. Asked over the control socket, not
 * the wire: it works with no initiator interface at all.
 */
import { formatDiscoverTable } from "../initiator/table.ts";
import { request, runControl, socketPath } from "./client.ts";
import type { TargetRow } from "./protocol.ts";

export function printTargets(args: { socket?: string; config?: string; json?: boolean }): Promise<never> {
  return runControl("stat --targets", async () => {
    const r = await request(socketPath(args), { cmd: "targets" });
    if (!r.ok) {
      process.stderr.write(`aoede stat --targets: ${r.error}\n`);
      return 1;
    }
    const rows = r.targets as TargetRow[];
    process.stdout.write(
      args.json
        ? JSON.stringify(rows, null, 2) + "\n"
        : formatDiscoverTable(rows.map((t) => ({ name: t.target, bufferCount: t.bufferCount, firmware: t.firmware, sectors: t.sectors, paths: t.paths, config: t.config }))),
    );
    return 0;
  });
}

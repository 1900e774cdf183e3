/**
 * `aoede daemon -c FILE` as a child process inside a test namespace (serve-proc's
 * runner), and a config file writer for the tests' worlds.
 */
import { MAIN, spawnAoede, type ServeProc } from "../helpers/serve-proc.ts";

export { MAIN };

export interface DaemonProc extends ServeProc {
  /** send a signal without waiting (SIGHUP: reload) */
  signal(sig: NodeJS.Signals): void;
}

/** `aoede daemon <args>` inside namespace `ns`. */
export function spawnDaemon(ns: string, args: string[], env: Record<string, string> = {}): DaemonProc {
  const p = spawnAoede(["ip", "netns", "exec", ns], ["daemon", ...args], { env });
  return Object.assign(p, {
    signal(sig: NodeJS.Signals) {
      if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill(sig);
    },
  });
}

export interface ExportSpec {
  name: string;
  path: string;
  shelf: number;
  slot: number;
  interfaces: string[];
  extra?: string;
}

export function configText(o: { stateDir: string; socket: string; exports: ExportSpec[]; defaults?: string }): string {
  let t = `[defaults]\nstate_dir = ${JSON.stringify(o.stateDir)}\ncontrol_socket = ${JSON.stringify(o.socket)}\nbufcnt = 64\n${o.defaults ?? ""}\n`;
  for (const e of o.exports) {
    t += `[export.${e.name}]\npath = ${JSON.stringify(e.path)}\nshelf = ${e.shelf}\nslot = ${e.slot}\ninterfaces = ${JSON.stringify(e.interfaces)}\n${e.extra ?? ""}\n`;
  }
  return t;
}

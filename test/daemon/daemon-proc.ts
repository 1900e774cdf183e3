/**
 * `aoede daemon -c FILE` as a child process inside a test namespace, with its
 * output collected, and a config file writer for the tests' worlds.
 */
import path from "node:path";
import type { Subprocess } from "bun";

export const MAIN = path.join(import.meta.dir, "../../src/cli/main.ts");

export interface DaemonProc {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
  waitOutput(re: RegExp, ms?: number): Promise<void>;
  signal(sig: NodeJS.Signals): void;
  stop(sig?: NodeJS.Signals, ms?: number): Promise<number>;
  waitExit(ms?: number): Promise<number>;
  kill(): void;
}

function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }) {
  const decoder = new TextDecoder();
  (async () => {
    for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
}

export function spawnDaemon(ns: string, args: string[], env: Record<string, string> = {}): DaemonProc {
  const proc = Bun.spawn(["ip", "netns", "exec", ns, process.execPath, MAIN, "daemon", ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", CONSOLA_LEVEL: "4", ...env },
  });
  const out = { text: "" };
  collect(proc.stdout, out);
  collect(proc.stderr, out);
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const self: DaemonProc = {
    proc,
    output: () => out.text,
    async waitOutput(re, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!re.test(out.text)) {
        if (!alive()) throw new Error(`daemon exited (${proc.exitCode}) before printing ${re}:\n${out.text}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in daemon output:\n${out.text}`);
        await Bun.sleep(20);
      }
    },
    signal(sig) {
      if (alive()) proc.kill(sig);
    },
    async stop(sig = "SIGTERM", ms = 15_000) {
      self.signal(sig);
      return self.waitExit(ms);
    },
    async waitExit(ms = 15_000) {
      const timer = setTimeout(() => proc.kill("SIGKILL"), ms);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
    kill() {
      if (alive()) proc.kill("SIGKILL");
    },
  };
  return self;
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

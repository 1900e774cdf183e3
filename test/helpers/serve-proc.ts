/**
 * `aoede serve` as a child process for end-to-end tests: started inside a
 * namespace, its output captured, ready once its start-up announcement (the
 * unsolicited Query Config reply) reaches the test's raw client.
 */
import path from "node:path";
import type { Subprocess } from "bun";
import { Command } from "../../src/aoe/index.ts";
import type { RawClient } from "./raw-client.ts";

export const MAIN = path.join(import.meta.dir, "../../src/cli/main.ts");

export interface ServeProc {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** everything printed so far */
  output(): string;
  /** wait until the output matches, or fail after `ms` */
  waitOutput(re: RegExp, ms?: number): Promise<void>;
  /** send a signal (unless it has exited already) and wait for the exit status */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number>;
  /** wait for the exit status without signalling (SIGKILL after `ms`) */
  waitExit(ms?: number): Promise<number>;
  /** kill outright if still running (afterAll) */
  kill(): void;
}

function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }) {
  const decoder = new TextDecoder();
  (async () => {
    for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
}

/** Run `aoede serve <args>` with a command prefix (e.g. `ip netns exec nsA`); `bin`: a compiled aoede instead of the sources. */
export function spawnServe(prefix: string[], args: string[], bin?: string): ServeProc {
  return spawnAoede(prefix, ["serve", ...args], { bin });
}

/** Run `aoede <argv>` (any long-running subcommand: serve, daemon) the same way; `env` is added to the environment. */
export function spawnAoede(prefix: string[], argv: string[], opts: { bin?: string; env?: Record<string, string> } = {}): ServeProc {
  const proc = Bun.spawn([...prefix, ...(opts.bin ? [opts.bin] : [process.execPath, MAIN]), ...argv], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", CONSOLA_LEVEL: "4", ...opts.env },
  });
  const out = { text: "" };
  collect(proc.stdout, out);
  collect(proc.stderr, out);
  const self: ServeProc = {
    proc,
    output: () => out.text,
    async waitOutput(re, ms = 5000) {
      const deadline = Date.now() + ms;
      while (!re.test(out.text)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in serve output:\n${out.text}`);
        await Bun.sleep(20);
      }
    },
    async stop(signal = "SIGTERM", ms = 10_000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return self.waitExit(ms);
    },
    async waitExit(ms = 10_000) {
      const timer = setTimeout(() => proc.kill("SIGKILL"), ms);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
    kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    },
  };
  return self;
}

/**
 * Start serve and wait for its announcement of shelf.slot on `client`.
 * Fails with the serve output if it exits or stays silent.
 */
export async function startServe(prefix: string[], args: string[], client: RawClient, shelf: number, slot: number, ms = 8000): Promise<ServeProc> {
  const seenBefore = client.received.length;
  const s = spawnServe(prefix, args);
  const deadline = Date.now() + ms;
  for (;;) {
    const announced = client.received
      .slice(seenBefore)
      .some((r) => r.h.command === Command.QueryConfig && r.h.tag === 0 && r.h.major === shelf && r.h.minor === slot && (r.h.flags & 0x08) !== 0);
    if (announced) return s;
    if (s.proc.exitCode !== null) throw new Error(`serve exited with ${s.proc.exitCode}:\n${s.output()}`);
    if (Date.now() > deadline) {
      s.kill();
      throw new Error(`serve did not announce e${shelf}.${slot} within ${ms} ms:\n${s.output()}`);
    }
    await Bun.sleep(20);
  }
}

/**
 * What the initiator's subcommands (src/cli/{discover,stat,ident,config,mask,
 * reserve,read,write}.ts) share: the common options, repeatable options, byte
 * sizes, the hint when nothing answers, and running a command in a session so that every
 * failure ends as one line on stderr and a non-zero exit.
 */
import { InitiatorError } from "./request.ts";
import { Session, SessionError, type SessionOptions } from "./session.ts";

export const DEFAULT_TIMEOUT_MS = 1000;

/** The options every initiator subcommand takes (citty argument definitions). */
export const commonArgs = {
  iface: {
    type: "string",
    alias: "i",
    valueHint: "IFACE",
    description: "interface to use; repeat for several (default: every Ethernet interface that is up)",
  },
  timeout: {
    type: "string",
    valueHint: "MS",
    description: `how long to wait for Query Config replies, ms (default ${DEFAULT_TIMEOUT_MS})`,
  },
  deadline: {
    type: "string",
    valueHint: "S",
    description: "fail a request whose frames go unanswered this long, seconds (default 45)",
  },
} as const;

export const jsonArg = { json: { type: "boolean", description: "print JSON" } } as const;

/** A command-line mistake: exit status 2. */
export class UsageError extends Error {}

/**
 * Every value of an option that may be repeated (`-i a -i b`, `--iface=a`,
 * `-ia`), in command-line order; citty keeps only the last.
 */
export function repeated(rawArgs: readonly string[], short: string | undefined, long: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === "--") break;
    if (a === `--${long}` || (short && a === `-${short}`)) {
      const v = rawArgs[i + 1];
      if (v === undefined) throw new UsageError(`option ${a} needs a value`);
      out.push(v);
      i++;
    } else if (a.startsWith(`--${long}=`)) {
      out.push(a.slice(long.length + 3));
    } else if (short && a.startsWith(`-${short}`) && !a.startsWith("--") && a.length > 2) {
      out.push(a.slice(2));
    }
  }
  return out;
}

/** Every (option, value) pair of several repeatable options, in command-line order. */
export function repeatedInOrder(rawArgs: readonly string[], longs: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === "--") break;
    for (const long of longs) {
      if (a === `--${long}`) {
        const v = rawArgs[i + 1];
        if (v === undefined) throw new UsageError(`option ${a} needs a value`);
        out.push([long, v]);
        i++;
      } else if (a.startsWith(`--${long}=`)) out.push([long, a.slice(long.length + 3)]);
    }
  }
  return out;
}

const SUFFIX: Record<string, number> = { "": 1, s: 512, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "4096", "0x1000", "8s" (sectors), "4k", "64M", "1G": bytes. */
export function parseSize(text: string, what: string): number {
  const m = /^(0x[0-9a-f]+|\d+)\s*([skmgt]?)(i?b)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * SUFFIX[m[2]!.toLowerCase()]! : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`${what} "${text}" is not a size (bytes, or with a suffix: s for sectors, K, M, G, T)`);
  }
  return n;
}

export function parseMs(text: string | undefined, what: string, fallback: number): number {
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${what} "${text}" is not a positive number`);
  return n;
}

export interface CommonOptions {
  timeoutMs: number;
  session: SessionOptions;
}

/** The common options of a parsed command line. */
export function commonOptions(args: Record<string, unknown>, rawArgs: readonly string[], deadlineDefaultS = 45): CommonOptions {
  const interfaces = repeated(rawArgs, "i", "iface");
  const deadlineS = parseMs(args.deadline as string | undefined, "--deadline", deadlineDefaultS);
  return {
    timeoutMs: parseMs(args.timeout as string | undefined, "--timeout", DEFAULT_TIMEOUT_MS),
    session: {
      interfaces,
      deadlineMs: deadlineS * 1000,
      log: (m) => process.stderr.write(`aoede: ${m}\n`),
    },
  };
}

/**
 * The hint when discovery found nothing: on stderr, so that stdout stays what a
 * script expects (the table's header, or "[]"), and the exit status stays 0 as
 * aoe-stat's does.
 */
export function hintNothingFound(name: string, interfaces: readonly string[], timeoutMs: number): void {
  process.stderr.write(
    `aoede ${name}: no AoE target answered on ${interfaces.join(", ")} within ${timeoutMs} ms ` +
      `(try a longer --timeout, or -i IFACE for another interface)\n`,
  );
}

/** Writes everything to a file descriptor, waiting out EAGAIN on a non-blocking pipe. */
export async function writeAll(fd: number, bytes: Uint8Array): Promise<void> {
  const { writeSync } = await import("node:fs");
  let at = 0;
  while (at < bytes.length) {
    try {
      at += writeSync(fd, bytes, at, bytes.length - at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      await Bun.sleep(1);
    }
  }
}

/**
 * Runs `fn` in a session; prints its failure as one line and exits non-zero.
 * `name` prefixes messages ("aoede read: ...").
 */
export async function runCommand(
  name: string,
  setup: () => CommonOptions,
  fn: (s: Session, o: CommonOptions) => Promise<number | void>,
): Promise<never> {
  let session: Session | undefined;
  let status = 1;
  try {
    const o = setup();
    session = Session.open(o.session);
    status = (await fn(session, o)) ?? 0;
  } catch (e) {
    status = e instanceof UsageError ? 2 : 1;
    const known = e instanceof UsageError || e instanceof SessionError || e instanceof InitiatorError || e instanceof RangeError;
    const msg = known ? (e as Error).message : String((e as Error)?.stack ?? e);
    process.stderr.write(`aoede ${name}: ${msg}\n`);
  } finally {
    session?.close();
  }
  process.exit(status);
}

/**
 * Drop-in names, busybox-style: the one executable answers to the names of the
 * tools it replaces, decided from the name it was started under.
 *
 *   vblade ARGS        aoede serve ARGS, with vblade's start-up line and usage
 *   aoe-stat ARGS      aoede stat ARGS: aoetools' aoe-stat table
 *   aoe-discover ARGS  aoede discover -q ARGS: broadcast Query Config, print nothing
 *
 * `install.sh --links` makes these names as links next to the binary (not by
 * default: they would shadow a real vblade or aoetools).
 */
import { basename } from "node:path";

/** The drop-in names and the aoede command line each stands for (before its own arguments). */
export const DROP_INS: Readonly<Record<string, readonly string[]>> = {
  vblade: ["serve"],
  "aoe-stat": ["stat"],
  "aoe-discover": ["discover", "-q"],
};

/**
 * The name this process was started under. A compiled executable's argv[1] is
 * its embedded entry point (/$bunfs/root/...), and argv0 is what the caller ran:
 * a link's own name. Run from the sources (`bun src/cli/main.ts`), it is the
 * script's name, without its extension.
 */
export function invokedName(argv0: string, argv1: string | undefined): string {
  const compiled = argv1 === undefined || argv1.startsWith("/$bunfs/") || argv1.startsWith("B:/~BUN/");
  return basename(compiled ? argv0 : argv1).replace(/\.[cm]?[jt]s$/, "");
}

/** The aoede command line that `argv` under `name` stands for; undefined for aoede itself. */
export function dropInArgs(name: string, argv: readonly string[]): string[] | undefined {
  const prefix = DROP_INS[name];
  return prefix ? [...prefix, ...argv] : undefined;
}

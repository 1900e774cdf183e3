/**
 * --help is plain text off a terminal: every command's help, piped, carries no
 * ANSI escape; NO_COLOR keeps it plain and FORCE_COLOR brings colour back, as
 * consola decides.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { main } from "../../src/cli/main.ts";
import { wantColor } from "../../src/cli/color.ts";
import { MAIN } from "../helpers/aoede-cli.ts";

// A dozen child processes on a busy 2-core machine.
setDefaultTimeout(60_000);

const ESC = "\x1b[";
const commands = Object.keys(main.subCommands as Record<string, unknown>);

/** The environment with every colour switch removed, plus `extra`. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !["NO_COLOR", "FORCE_COLOR", "CI", "TEST", "NODE_ENV"].includes(k)) e[k] = v;
  }
  return { ...e, TERM: "xterm-256color", ...extra };
}

async function help(args: string[], extra: Record<string, string> = {}) {
  const p = Bun.spawn([process.execPath, MAIN, ...args, "--help"], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: env(extra) });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code };
}

describe("--help through a pipe", () => {
  test("has every subcommand to check", () => {
    expect(commands).toEqual(expect.arrayContaining(["serve", "discover", "stat", "read", "write", "demo", "bench"]));
  });

  for (const args of [[], ...commands.map((c) => [c])]) {
    test(`aoede ${args.join(" ") || "(top level)"} --help: no escapes`, async () => {
      const r = await help(args);
      expect(r.code).toBe(0);
      expect(r.out).toContain("USAGE");
      expect(r.out.includes(ESC)).toBe(false);
      expect(r.err.includes(ESC)).toBe(false);
    });
  }

  test("NO_COLOR, even empty, keeps it plain; FORCE_COLOR colours it; NO_COLOR wins over FORCE_COLOR", async () => {
    expect((await help(["stat"], { NO_COLOR: "" })).out.includes(ESC)).toBe(false);
    expect((await help(["stat"], { NO_COLOR: "1" })).out.includes(ESC)).toBe(false);
    const forced = await help(["stat"], { FORCE_COLOR: "1" });
    expect(forced.out.includes(ESC)).toBe(true);
    expect(forced.out.replace(/\x1b\[[0-9;]*m/g, "")).toBe((await help(["stat"])).out);
    expect((await help(["stat"], { FORCE_COLOR: "1", NO_COLOR: "1" })).out.includes(ESC)).toBe(false);
  });

  test("on a terminal it is coloured (script(1) gives the child a pty)", async () => {
    const has = Bun.spawnSync(["sh", "-c", "command -v script"]).exitCode === 0;
    if (!has) {
      console.log("SKIP pty: script(1) is not installed");
      return;
    }
    const cmd = [process.execPath, MAIN, "stat", "--help"].map((a) => `'${a}'`).join(" ");
    const p = Bun.spawn(["script", "-qec", cmd, "/dev/null"], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: env() });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    expect(out.includes(ESC)).toBe(true);
  });
});

describe("wantColor: consola's rule", () => {
  const table: [Record<string, string>, string[], boolean, boolean][] = [
    [{ TERM: "xterm" }, [], true, true],
    [{ TERM: "xterm" }, [], false, false],
    [{}, [], true, false],
    [{ TERM: "dumb" }, [], true, false],
    [{ TERM: "xterm", NO_COLOR: "" }, [], true, false],
    [{ TERM: "xterm" }, ["--no-color"], true, false],
    [{ FORCE_COLOR: "1" }, [], false, true],
    [{ FORCE_COLOR: "0" }, [], false, true],
    [{}, ["--color"], false, true],
    [{ FORCE_COLOR: "1", NO_COLOR: "1" }, [], true, false],
    [{ CI: "true", GITHUB_ACTIONS: "true" }, [], false, true],
    [{ CI: "true" }, [], false, false],
  ];
  for (const [e, argv, tty, want] of table) {
    test(`${JSON.stringify(e)} ${argv.join(" ")} tty=${tty}: ${want}`, () => expect(wantColor(e, argv, tty)).toBe(want));
  }
});

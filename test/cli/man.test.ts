/**
 * aoede(8): the committed man/aoede.8 is what scripts/man.ts makes from the
 * command definitions (so it cannot drift from --help), it documents every
 * subcommand and option, and groff and man render it without a warning.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { MAN_PAGE, renderManPage, roffText, splitExamples } from "../../scripts/man.ts";
import { main } from "../../src/cli/main.ts";

setDefaultTimeout(30_000);

const has = (cmd: string) => Bun.spawnSync(["sh", "-c", `command -v ${cmd}`]).exitCode === 0;

describe("aoede(8)", () => {
  test("the committed page is the generated one (bun scripts/man.ts rewrites it)", async () => {
    expect(readFileSync(MAN_PAGE, "utf8")).toBe(await renderManPage());
  });

  test("every subcommand and every one of its options is in it", async () => {
    const page = await renderManPage();
    const subs = main.subCommands as Record<string, () => Promise<{ args?: Record<string, { type?: string; alias?: string }> }>>;
    const missing: string[] = [];
    for (const [name, load] of Object.entries(subs)) {
      if (!page.includes(`.SS "${name}"`)) missing.push(name);
      for (const [arg, def] of Object.entries((await load()).args ?? {})) {
        if (def.type === "positional") {
          if (!page.includes(`\\fI${arg}\\fR`)) missing.push(`${name} ${arg}`);
        } else if (!page.includes(`\\fB\\-\\-${arg.replace(/-/g, "\\-")}\\fR`)) missing.push(`${name} --${arg}`);
        if (def.alias && !page.includes(`\\fB\\-${def.alias}\\fR`)) missing.push(`${name} -${def.alias}`);
      }
    }
    expect(missing).toEqual([]);
    for (const section of ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "VBLADE OPTIONS", "DROP-IN NAMES", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"]) {
      expect(page).toContain(`.SH ${section}\n`);
    }
  });

  test.skipIf(!has("groff"))("groff -ww renders it without a warning", () => {
    const r = Bun.spawnSync(["groff", "-ww", "-man", "-Tutf8", MAN_PAGE], { stdout: "pipe", stderr: "pipe" });
    expect({ code: r.exitCode, err: r.stderr.toString() }).toEqual({ code: 0, err: "" });
    const text = r.stdout.toString().replace(/.\x08/g, "");
    expect(text).toContain("aoede serve [options] shelf slot netif file");
    expect(text).toContain("Example:");
  });

  test.skipIf(!has("man"))("man -l shows it without a warning", () => {
    const r = Bun.spawnSync(["man", "--warnings", "-l", MAN_PAGE], { stdout: "pipe", stderr: "pipe", env: { ...process.env, MANWIDTH: "80", MANPAGER: "cat", PAGER: "cat" } });
    expect({ code: r.exitCode, err: r.stderr.toString() }).toEqual({ code: 0, err: "" });
    expect(r.stdout.toString()).toContain("EXIT STATUS");
  });

  test("roff escaping and examples", () => {
    expect(roffText("a\\b\n.c\n'd")).toBe("a\\eb\n\\&.c\n\\&'d");
    expect(splitExamples("Target status. Examples: aoede stat; aoede stat e9.0 --json")).toEqual({
      text: "Target status.",
      examples: ["aoede stat", "aoede stat e9.0 --json"],
    });
    expect(splitExamples("No example here")).toEqual({ text: "No example here", examples: [] });
  });
});

/**
 * Colour only on a terminal, decided once, before citty is loaded.
 *
 * citty decides at import time whether its --help carries ANSI escapes, and it
 * looks only at NO_COLOR=1, TERM=dumb, TEST and CI: not at whether stdout is a
 * terminal. So main.ts imports this module first, and when colour is not wanted
 * it sets NO_COLOR=1 for citty (and for consola, which then agrees).
 */

/**
 * consola's rule (consola/utils colors.ts): NO_COLOR (any value) or --no-color
 * turns colour off; otherwise FORCE_COLOR (any value) or --color turns it on;
 * otherwise colour when stdout is a terminal whose TERM is set and not "dumb",
 * or in a CI that renders it.
 */
export function wantColor(env: Record<string, string | undefined>, argv: readonly string[], stdoutIsTTY: boolean): boolean {
  if ("NO_COLOR" in env || argv.includes("--no-color")) return false;
  if ("FORCE_COLOR" in env || argv.includes("--color")) return true;
  if (stdoutIsTTY && env.TERM && env.TERM !== "dumb") return true;
  return "CI" in env && ("GITHUB_ACTIONS" in env || "GITLAB_CI" in env || "CIRCLECI" in env);
}

if (!wantColor(process.env, process.argv, process.stdout.isTTY === true)) process.env.NO_COLOR = "1";

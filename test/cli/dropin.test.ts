/**
 * Which name the executable was started under (src/cli/dropin.ts): a compiled
 * binary's argv0, or the script's name from the sources; and what each drop-in
 * name stands for. The compiled binary through real links: test/ship/ship.test.ts.
 */
import { expect, test } from "bun:test";
import { dropInArgs, invokedName } from "../../src/cli/dropin.ts";

test("the name: argv0 when compiled, the script's name from the sources", () => {
  const table: [string, string | undefined, string][] = [
    ["/usr/local/sbin/vblade", "/$bunfs/root/aoede", "vblade"],
    ["aoe-stat", "/$bunfs/root/aoede", "aoe-stat"],
    ["./aoede", "/$bunfs/root/aoede", "aoede"],
    ["/usr/bin/bun", "/work/src/cli/main.ts", "main"],
    ["bun", "/opt/aoede/vblade.ts", "vblade"],
    ["/usr/local/sbin/aoe-discover", undefined, "aoe-discover"],
  ];
  for (const [argv0, argv1, want] of table) expect(invokedName(argv0, argv1)).toBe(want);
});

test("what each name stands for", () => {
  expect(dropInArgs("vblade", ["-b", "8", "9", "0", "eth0", "f"])).toEqual(["serve", "-b", "8", "9", "0", "eth0", "f"]);
  expect(dropInArgs("aoe-stat", [])).toEqual(["stat"]);
  expect(dropInArgs("aoe-discover", ["-i", "eth1"])).toEqual(["discover", "-q", "-i", "eth1"]);
  expect(dropInArgs("aoede", ["stat"])).toBeUndefined();
  expect(dropInArgs("main", [])).toBeUndefined();
});

#!/usr/bin/env bun
/**
 * aoede — ATA over Ethernet in one file.
 * Each subcommand lives in its own file and is loaded only when used, so that
 * `aoede --version` starts fast.
 */
import { defineCommand, runMain } from "citty";
import { VERSION } from "../version.ts";

const lazy = (load: () => Promise<{ default: any }>) => () => load().then((m) => m.default);

export const main = defineCommand({
  meta: {
    name: "aoede",
    version: `${VERSION} (${process.platform}-${process.arch})`,
    description: "ATA over Ethernet: an AoE target (vblade drop-in) and a user-space initiator",
  },
  subCommands: {
    serve: lazy(() => import("./serve.ts")),
    discover: lazy(() => import("./discover.ts")),
    stat: lazy(() => import("./stat.ts")),
    ident: lazy(() => import("./ident.ts")),
    config: lazy(() => import("./config.ts")),
    mask: lazy(() => import("./mask.ts")),
    reserve: lazy(() => import("./reserve.ts")),
    read: lazy(() => import("./read.ts")),
    write: lazy(() => import("./write.ts")),
    demo: lazy(() => import("./demo.ts")),
    bench: lazy(() => import("./bench.ts")),
    mount: lazy(() => import("./mount.ts")),
  },
});

if (import.meta.main) {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    console.log(`aoede ${VERSION} (${process.platform}-${process.arch})`);
    process.exit(0);
  }
  runMain(main);
}

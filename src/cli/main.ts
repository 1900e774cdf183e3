#!/usr/bin/env bun
/**
 * aoede — ATA over Ethernet in one file.
 * Each subcommand lives in its own file and is loaded only when used, so that
 * `aoede --version` starts fast.
 */
// First: whether --help may carry colour is settled before citty is loaded.
import "./color.ts";
import { defineCommand, runMain } from "citty";
import { VERSION } from "../version.ts";
import { dropInArgs, invokedName } from "./dropin.ts";

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
    daemon: lazy(() => import("./daemon.ts")),
    ctl: lazy(() => import("./ctl.ts")),
    top: lazy(() => import("./top.ts")),
    mount: lazy(() => import("./mount.ts")),
  },
});

if (import.meta.main) {
  let argv = process.argv.slice(2);
  // Started as vblade, aoe-stat or aoe-discover (a link to this file): that tool's command line.
  const name = invokedName(process.argv0, process.argv[1]);
  const dropIn = dropInArgs(name, argv);
  if (name === "vblade" && !argv.some((a) => a === "-h" || a === "--help")) {
    const { runServe } = await import("./serve.ts");
    await runServe(argv, "vblade");
  }
  if (dropIn) argv = dropIn;
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    console.log(`aoede ${VERSION} (${process.platform}-${process.arch})`);
    process.exit(0);
  }
  runMain(main, { rawArgs: argv });
}

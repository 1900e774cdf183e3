#!/usr/bin/env bun
/**
 * build.ts — `bun run build`: one self-contained executable per platform.
 *
 *   dist/aoede               this machine (the one install.sh installs)
 *   dist/aoede-linux-x64     \
 *   dist/aoede-linux-arm64    } copy one file onto a server; nothing else needed
 *   dist/aoede-freebsd-x64   /
 *
 * Each is `bun build --compile` of src/cli/main.ts plus every Worker entry file
 * (a compiled program can only start workers whose entry files were named at
 * build time). Bytecode is compiled ahead of time and the code minified, so that
 * `aoede --version` starts in a few tens of milliseconds.
 *
 * Usage: bun scripts/build.ts [--only host,linux-x64,...] [--outdir DIR] [--strict]
 *   --only    build only these (host, linux-x64, linux-arm64, freebsd-x64)
 *   --outdir  where to write (default dist/)
 *   --strict  fail when a subcommand's source file is missing instead of
 *             building a binary whose missing subcommand says so
 *
 * Cross targets fetch their Bun runtime from the package registry the first time
 * (Bun caches it), then build offline.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import type { BunPlugin } from "bun";

const root = resolve(import.meta.dir, "..");

export interface Target {
  /** short name for --only */
  name: string;
  /** output file name under dist/ */
  file: string;
  /** Bun compile target; undefined = this machine */
  bunTarget?: Bun.Build.CompileTarget | "bun-freebsd-x64" | "bun-freebsd-arm64";
}

export const TARGETS: Target[] = [
  { name: "host", file: "aoede" },
  { name: "linux-x64", file: "aoede-linux-x64", bunTarget: "bun-linux-x64" },
  { name: "linux-arm64", file: "aoede-linux-arm64", bunTarget: "bun-linux-arm64" },
  { name: "freebsd-x64", file: "aoede-freebsd-x64", bunTarget: "bun-freebsd-x64" },
];

function parseArgs(argv: string[]) {
  const out = { only: undefined as string[] | undefined, outdir: join(root, "dist"), strict: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => {
      const eq = a.indexOf("=");
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--only" || a.startsWith("--only=")) out.only = val().split(",").filter(Boolean);
    else if (a === "--outdir" || a.startsWith("--outdir=")) out.outdir = resolve(val());
    else if (a === "--strict") out.strict = true;
    else if (a === "-h" || a === "--help") {
      console.log(readFileSync(import.meta.path, "utf8").split("*/")[0]!.replace(/^#!.*\n\/\*\*\n?/, "").replace(/^ \* ?/gm, ""));
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  for (const n of out.only ?? []) {
    if (!TARGETS.some((t) => t.name === n)) throw new Error(`unknown target ${n}: one of ${TARGETS.map((t) => t.name).join(", ")}`);
  }
  return out;
}

/** The version in package.json; src/version.ts is rewritten to match if it differs. */
export function syncVersion(): string {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const version: string = pkg.version;
  const file = join(root, "src/version.ts");
  const text = readFileSync(file, "utf8");
  const m = text.match(/export const VERSION = "([^"]*)"/);
  if (!m) throw new Error("src/version.ts: no `export const VERSION = \"...\"` line");
  if (m[1] !== version) {
    writeFileSync(file, text.replace(m[0], `export const VERSION = "${version}"`));
    console.log(`build: src/version.ts ${m[1]} -> ${version} (from package.json)`);
  }
  return version;
}

/** Every Worker entry file: *worker.ts under ffi/ and src/ (ffi/poller-worker.ts, ...). */
export function workerEntries(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/worker\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name)) found.push(relative(root, p));
    }
  };
  walk(join(root, "ffi"));
  walk(join(root, "src"));
  const names = found.map((f) => basename(f));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`two worker entry files named ${dup}: they would share one embedded path`);
  return found.sort();
}

/**
 * While the team is still landing subcommands, a subcommand whose file does not
 * exist yet builds as one that says so (exit 1) instead of failing the whole build.
 */
function missingSubcommands(missing: string[]): BunPlugin {
  return {
    name: "aoede-missing-subcommands",
    setup(build) {
      build.onResolve({ filter: /^\.\/[a-z-]+\.ts$/ }, (args) => {
        if (!args.importer.endsWith(join("src", "cli", "main.ts"))) return undefined;
        const file = join(dirname(args.importer), args.path);
        if (existsSync(file)) return undefined;
        missing.push(basename(args.path, ".ts"));
        return { path: basename(args.path, ".ts"), namespace: "aoede-missing" };
      });
      build.onLoad({ filter: /.*/, namespace: "aoede-missing" }, (args) => ({
        loader: "js",
        contents: `export default { meta: { name: ${JSON.stringify(args.path)}, description: "(not in this build)" },
          run() { console.error("aoede ${args.path}: this build was made before the subcommand existed; rebuild"); process.exit(1); } };`,
      }));
    },
  };
}

export async function build(opts: { only?: string[]; outdir?: string; strict?: boolean; quiet?: boolean } = {}) {
  const outdir = opts.outdir ?? join(root, "dist");
  const log = opts.quiet ? () => {} : console.log;
  const version = syncVersion();
  const workers = workerEntries();
  mkdirSync(outdir, { recursive: true });
  const targets = TARGETS.filter((t) => !opts.only || opts.only.includes(t.name));
  log(`build: aoede ${version}; entry src/cli/main.ts${workers.length ? `; workers ${workers.join(", ")}` : "; no worker entry files found"}`);
  const built: { file: string; bytes: number; ms: number }[] = [];
  for (const t of targets) {
    const outfile = join(outdir, t.file);
    // Written in a private directory beside, then renamed into place, so that a
    // concurrent run never sees half a file. Same base name: it is embedded
    // (process.argv[1] is /$bunfs/root/<name>).
    const partialDir = join(outdir, `.partial-${process.pid}`);
    mkdirSync(partialDir, { recursive: true });
    const partial = join(partialDir, t.file);
    const missing: string[] = [];
    const t0 = performance.now();
    let result: Bun.BuildOutput;
    try {
      result = await Bun.build({
        entrypoints: ["src/cli/main.ts", ...workers].map((p) => join(root, p)),
        root,
        // Flat names: inside the binary every module's import.meta.url is the
        // executable's (/$bunfs/root/aoede), so `new Worker(new URL("./poller-worker.ts",
        // import.meta.url))` looks for /$bunfs/root/poller-worker.ts — and finds the
        // worker only if it was embedded there, not under ffi/.
        naming: { entry: "[name].[ext]" },
        format: "esm",
        minify: true,
        bytecode: true,
        sourcemap: "linked",
        // Never inherit the building shell's NODE_ENV: built under `bun test`
        // (NODE_ENV=test), consola would log only warnings in the product.
        define: { "process.env.NODE_ENV": JSON.stringify("production") },
        plugins: opts.strict ? [] : [missingSubcommands(missing)],
        compile: {
          ...(t.bunTarget ? { target: t.bunTarget as Bun.Build.CompileTarget } : {}),
          outfile: partial,
          // A server binary must not pick up .env or bunfig.toml from whatever directory it runs in.
          autoloadDotenv: false,
          autoloadBunfig: false,
        },
      });
    } catch (e) {
      rmSync(partialDir, { recursive: true, force: true });
      const logs = (e as AggregateError).errors ?? [e];
      for (const l of logs) console.error(String(l));
      throw new Error(`build of ${t.file} failed`);
    }
    if (!result.success) {
      rmSync(partialDir, { recursive: true, force: true });
      for (const l of result.logs) console.error(String(l));
      throw new Error(`build of ${t.file} failed`);
    }
    // The source maps are embedded in the executable; the side files are not needed.
    for (const o of result.outputs) if (o.kind === "sourcemap") rmSync(o.path, { force: true });
    rmSync(`${partial}.map`, { force: true });
    renameSync(partial, outfile);
    rmSync(partialDir, { recursive: true, force: true });
    const ms = performance.now() - t0;
    const bytes = statSync(outfile).size;
    built.push({ file: outfile, bytes, ms });
    log(`build: ${relative(process.cwd(), outfile) || outfile}  ${(bytes / 2 ** 20).toFixed(1)} MiB  ${(ms / 1000).toFixed(1)} s`);
    if (missing.length) {
      console.warn(`build: WARNING ${t.file}: subcommands without source yet (they print an error): ${[...new Set(missing)].join(", ")}`);
    }
  }
  return built;
}

if (import.meta.main) {
  try {
    const args = parseArgs(process.argv.slice(2));
    await build(args);
  } catch (e) {
    console.error(`build: ${(e as Error).message}`);
    process.exit(1);
  }
}

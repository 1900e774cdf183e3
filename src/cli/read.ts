/**
 * `aoede read TARGET [-o OFFSET] [-n LENGTH] [FILE|-]`: copy the device (or a
 * byte range of it) to FILE or stdout. Progress on stderr when it is a
 * terminal. Succeeds only when every byte arrived and was written: a short
 * copy is an error that says how far it got.
 */
import { defineCommand } from "citty";
import { closeSync, fstatSync, openSync, writeSync } from "node:fs";
import { commonArgs, commonOptions, parseSize, runCommand, UsageError, writeAll } from "../initiator/cliutil.ts";
import { readRange } from "../initiator/io.ts";
import { formatTargetStat } from "../initiator/ctl.ts";
import { SessionError } from "../initiator/session.ts";
import { progressArg, progressMode, ProgressMeter } from "./progress.ts";

export default defineCommand({
  meta: { name: "read", description: "Copy a target's data to a file or stdout. Example: aoede read e9.0 backup.img" },
  args: {
    target: { type: "positional", required: false, description: "e<shelf>.<slot> (required)" },
    file: { type: "positional", required: false, description: "output file, or - for stdout (default)" },
    offset: { type: "string", alias: "o", valueHint: "OFFSET", description: "start at this byte (suffixes s, K, M, G)" },
    length: { type: "string", alias: "n", valueHint: "LENGTH", description: "copy this many bytes (default: to the end)" },
    stat: { type: "boolean", description: "print the target's ctl and devlink text on stderr afterwards" },
    ...progressArg,
    ...commonArgs,
  },
  run: ({ args, rawArgs }) =>
    runCommand("read", () => {
      if (!args.target) throw new UsageError("which target? usage: aoede read TARGET [-o OFFSET] [-n LENGTH] [FILE|-]");
      if ((!args.file || args.file === "-") && process.stdout.isTTY) {
        throw new UsageError("refusing to write a disk image to a terminal: give FILE, or redirect stdout");
      }
      return commonOptions(args, rawArgs);
    }, async (s, o) => {
      const offset = args.offset ? parseSize(String(args.offset), "offset") : 0;
      const t = await s.open(String(args.target), o.timeoutMs);
      const size = t.sizeBytes!;
      if (offset > size) throw new UsageError(`offset ${offset} is past the end of ${t.name} (${size} bytes)`);
      const length = args.length !== undefined ? parseSize(String(args.length), "length") : size - offset;
      if (offset + length > size) {
        throw new UsageError(`${length} bytes at offset ${offset} run past the end of ${t.name} (${size} bytes)`);
      }
      const file = args.file && args.file !== "-" ? String(args.file) : undefined;
      let fd = 1;
      if (file) {
        try {
          fd = openSync(file, "w");
        } catch (e) {
          throw new SessionError(`cannot write ${file}: ${(e as Error).message}`);
        }
      }
      const progress = new ProgressMeter(`${t.name} -> ${file ?? "stdout"}`, progressMode(args.progress === true, process.stderr.isTTY === true));
      let written = 0;
      const started = performance.now();
      try {
        await readRange(s.ini, t, {
          offset,
          length,
          sink: async (bytes) => {
            try {
              if (file) {
                for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
              } else await writeAll(1, bytes);
            } catch (e) {
              throw new SessionError(`cannot write ${file ?? "stdout"}: ${(e as Error).message}`);
            }
            written += bytes.length;
          },
          onProgress: (d, total) => progress.update(d, total),
        });
      } catch (e) {
        progress.end();
        const where = file ? `${file} holds only ${written} of ${length} bytes` : `only ${written} of ${length} bytes were written`;
        if (e instanceof Error) e.message += `; ${where}`;
        throw e;
      } finally {
        if (file) {
          const st = fstatSync(fd);
          closeSync(fd);
          if (st.isFile() && written === length && st.size !== length) {
            throw new SessionError(`${file} is ${st.size} bytes, expected ${length}`);
          }
        }
      }
      progress.end();
      if (written !== length) throw new SessionError(`short copy: ${written} of ${length} bytes`);
      if (progress.enabled) {
        const s2 = (performance.now() - started) / 1000;
        process.stderr.write(`${written} bytes from ${t.name} in ${s2.toFixed(2)} s (${(written / 1e6 / s2).toFixed(1)} MB/s)\n`);
      }
      if (args.stat) process.stderr.write(formatTargetStat(t.status()));
    }),
});

/**
 * `aoede write TARGET [-o OFFSET] [FILE|-]`: copy an image from FILE or stdin
 * onto the device at OFFSET (a multiple of 512), then FLUSH CACHE. A file
 * larger than the room left on the device is refused before anything is
 * sent; a short or failed copy is an error that says how far it got.
 */
import { expectOtherWork } from "../net/loop.ts";
import { defineCommand } from "citty";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { commonArgs, commonOptions, parseSize, runCommand, UsageError } from "../initiator/cliutil.ts";
import { writeRange } from "../initiator/io.ts";
import { formatTargetStat } from "../initiator/ctl.ts";
import { SessionError } from "../initiator/session.ts";
import { progressArg, progressMode, ProgressMeter } from "./progress.ts";

function fileSource(fd: number): (max: number, into?: Uint8Array) => Promise<Uint8Array> {
  return async (max, into) => {
    const buf = into !== undefined && into.length >= max ? into.subarray(0, max) : new Uint8Array(max);
    let have = 0;
    while (have < max) {
      const n = readSync(fd, buf, have, max - have, null);
      if (n === 0) break;
      have += n;
    }
    return have === max ? buf : buf.subarray(0, have);
  };
}

function stdinSource(): (max: number) => Promise<Uint8Array> {
  const reader = Bun.stdin.stream().getReader();
  let rest: Uint8Array = new Uint8Array(0);
  return async (max) => {
    if (rest.length === 0) {
      // a read that Bun's loop completes: the poller's hot phase must not sit in poll() meanwhile
      const release = expectOtherWork();
      const r = await reader.read().finally(release);
      if (r.done) return new Uint8Array(0);
      rest = r.value;
    }
    const out = rest.subarray(0, max);
    rest = rest.subarray(out.length);
    return out;
  };
}

export default defineCommand({
  meta: { name: "write", description: "Copy a file or stdin onto a target. Example: aoede write e9.0 -o 1M image.img" },
  args: {
    target: { type: "positional", required: false, description: "e<shelf>.<slot> (required)" },
    file: { type: "positional", required: false, description: "input file, or - for stdin (default)" },
    offset: { type: "string", alias: "o", valueHint: "OFFSET", description: "write at this byte, a multiple of 512 (suffixes s, K, M, G)" },
    stat: { type: "boolean", description: "print the target's ctl and devlink text on stderr afterwards" },
    ...progressArg,
    ...commonArgs,
  },
  run: ({ args, rawArgs }) => {
    let fd = -1;
    let length: number | undefined;
    let offset = 0;
    const file = args.file && args.file !== "-" ? String(args.file) : undefined;
    return runCommand("write", () => {
      if (!args.target) throw new UsageError("which target? usage: aoede write TARGET [-o OFFSET] [FILE|-]");
      offset = args.offset ? parseSize(String(args.offset), "offset") : 0;
      if (offset % 512 !== 0) throw new UsageError(`offset ${offset} is not a multiple of 512`);
      if (!file && process.stdin.isTTY) {
        throw new UsageError("stdin is a terminal: give FILE, or pipe the image in");
      }
      if (file) {
        try {
          fd = openSync(file, "r");
          const st = fstatSync(fd);
          if (st.isFile()) length = st.size;
        } catch (e) {
          throw new SessionError(`cannot read ${file}: ${(e as Error).message}`);
        }
      }
      return commonOptions(args, rawArgs);
    }, async (s, o) => {
      const t = await s.open(String(args.target), o.timeoutMs);
      const size = t.sizeBytes!;
      if (length !== undefined && offset + length > size) {
        throw new UsageError(`${file} (${length} bytes) does not fit on ${t.name} at offset ${offset} (${size} bytes)`);
      }
      const progress = new ProgressMeter(`${file ?? "stdin"} -> ${t.name}`, progressMode(args.progress === true, process.stderr.isTTY === true));
      let acked = 0;
      const started = performance.now();
      let written: number;
      try {
        written = await writeRange(s.ini, t, {
          offset,
          length,
          source: file ? fileSource(fd) : stdinSource(),
          onProgress: (d, total) => {
            acked = d;
            progress.update(d, total);
          },
        });
      } catch (e) {
        progress.end();
        if (e instanceof Error) e.message += `; the copy is incomplete (${acked} bytes acknowledged)`;
        throw e;
      } finally {
        if (fd >= 0) closeSync(fd);
      }
      progress.end();
      if (length !== undefined && written !== length) throw new SessionError(`short copy: ${written} of ${length} bytes`);
      if (progress.enabled) {
        const s2 = (performance.now() - started) / 1000;
        process.stderr.write(`${written} bytes to ${t.name} in ${s2.toFixed(2)} s (${(written / 1e6 / s2).toFixed(1)} MB/s)\n`);
      }
      if (args.stat) process.stderr.write(formatTargetStat(t.status()));
    });
  },
});

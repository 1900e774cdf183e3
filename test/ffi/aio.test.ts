/**
 * ffi/linux/aio.ts: native AIO on an O_DIRECT file — reads land where they
 * should, a vectored write lands in order, past-EOF and errors come back as
 * results, and a closed context lets the process exit (its eventfd leaves the
 * poller). Linux only; skipped where the file system refuses O_DIRECT.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { alignedBytes } from "../../ffi/blockdev.ts";
import { AioContext } from "../../ffi/linux/aio.ts";

// Disk I/O and a child process: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const SIZE = 1 << 20;
let dir = "";
let file = "";
let data: Uint8Array;
let directOk = false;

beforeAll(() => {
  // /var/tmp: a disk file system (tmpfs may refuse O_DIRECT)
  dir = fs.mkdtempSync(path.join(fs.existsSync("/var/tmp") ? "/var/tmp" : os.tmpdir(), "aoede-aio-"));
  file = path.join(dir, "img");
  data = new Uint8Array(SIZE);
  for (let at = 0; at < SIZE; at += 65536) crypto.getRandomValues(data.subarray(at, at + 65536));
  fs.writeFileSync(file, data);
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_DIRECT));
    directOk = true;
  } catch {
    directOk = false;
  }
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const run = <T>(start: (done: (v: T) => void) => boolean): Promise<T> =>
  new Promise((resolve, reject) => {
    if (!start(resolve)) reject(new Error("not submitted"));
  });

describe.skipIf(process.platform !== "linux")("native AIO", () => {
  test("32 concurrent 4 KiB reads return the file's bytes", async () => {
    if (!directOk) return;
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_DIRECT);
    const aio = new AioContext(64);
    try {
      const reads = Array.from({ length: 32 }, (_, i) => {
        const buf = alignedBytes(4096, 4096);
        const pos = ((i * 37) % 256) * 4096;
        return run<number>((done) => aio.read(fd, buf, 0, 4096, pos, done)).then((n) => ({ n, buf, pos }));
      });
      expect(aio.inFlight).toBeGreaterThan(0);
      for (const { n, buf, pos } of await Promise.all(reads)) {
        expect(n).toBe(4096);
        expect(Buffer.from(buf).equals(Buffer.from(data.subarray(pos, pos + 4096)))).toBe(true);
      }
      expect(aio.inFlight).toBe(0);
    } finally {
      aio.close();
      fs.closeSync(fd);
    }
  });

  test("a vectored write lands in order; reads past the end return 0", async () => {
    if (!directOk) return;
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_DIRECT);
    const aio = new AioContext(8);
    try {
      const a = alignedBytes(4096, 4096).fill(0xab);
      const b = alignedBytes(8192, 4096).fill(0xcd);
      expect(await run<number>((done) => aio.writev(fd, [a, b], 65536, done))).toBe(12288);
      const back = fs.readFileSync(file).subarray(65536, 65536 + 12288);
      expect(back.subarray(0, 4096).every((x) => x === 0xab)).toBe(true);
      expect(back.subarray(4096).every((x) => x === 0xcd)).toBe(true);
      expect(await run<number>((done) => aio.read(fd, alignedBytes(4096, 4096), 0, 4096, SIZE * 4, done))).toBe(0);
    } finally {
      aio.close();
      fs.closeSync(fd);
    }
  });

  test("a transfer the device refuses completes with -errno; a bad descriptor or a full context is refused at submit", async () => {
    if (!directOk) return;
    const ro = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    const aio = new AioContext(2);
    try {
      const buf = alignedBytes(4096, 4096);
      // writing through a read-only descriptor: refused at submit (EBADF) -> false
      expect(aio.write(ro, buf, 0, 4096, 0, () => {})).toBe(false);
      // a length that is not a multiple of the logical block: EINVAL (22), as a result
      expect(await run<number>((done) => aio.read(ro, buf, 0, 100, 0, done))).toBe(-22);
      const p1 = run<number>((done) => aio.read(ro, alignedBytes(4096, 4096), 0, 4096, 0, done));
      const p2 = run<number>((done) => aio.read(ro, alignedBytes(4096, 4096), 0, 4096, 4096, done));
      expect(aio.read(ro, buf, 0, 4096, 8192, () => {})).toBe(false); // both slots taken
      expect(await p1).toBe(4096);
      expect(await p2).toBe(4096);
    } finally {
      aio.close();
      fs.closeSync(ro);
    }
  });

  test("a process whose context is closed exits", () => {
    if (!directOk) return;
    const script = `
      import fs from "node:fs";
      import { AioContext } from ${JSON.stringify(path.join(import.meta.dir, "../../ffi/linux/aio.ts"))};
      import { alignedBytes } from ${JSON.stringify(path.join(import.meta.dir, "../../ffi/blockdev.ts"))};
      const fd = fs.openSync(${JSON.stringify(file)}, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
      const aio = new AioContext(4);
      aio.read(fd, alignedBytes(4096, 4096), 0, 4096, 0, (n) => { console.log("read", n); aio.close(); });
    `;
    const r = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe", timeout: 10_000 });
    expect(r.stdout.toString().trim()).toBe("read 4096");
    expect(r.exitCode).toBe(0);
  });
});

/**
 * The daemon as a process, without a network: a bad file at start exits 2 with
 * FILE:LINE and the key, before opening anything (no control socket, no state
 * directory); --check; sd_notify READY=1 / RELOADING=1 / STOPPING=1 received on a
 * unix datagram socket of the test's own; the control socket's mode. Its only
 * export names an interface that does not exist, so nothing touches the host's.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { lastError, libc } from "../../ffi/libc.ts";
import { sockaddrUn } from "../../ffi/sd-notify.ts";
import { makeImage } from "../helpers/vblade.ts";
import { MAIN } from "./daemon-proc.ts";

setDefaultTimeout(30_000);

// A 1 MiB image for the exports' paths; the state directory and control socket go beside it.
const image = makeImage(1 << 20);
const { dir, path: img } = image;
afterAll(() => image.dispose());

const base = () =>
  `[defaults]\nstate_dir = "${dir}/state"\ncontrol_socket = "${dir}/ctl.sock"\ninterfaces = ["nosuchif0"]\n\n[export.a]\npath = "${img}"\nshelf = 3\nslot = 4\n`;

async function run(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1", ...env } });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { out, err, code };
}

const starts: { what: string; text: () => string; line: number; key: string }[] = [
  { what: "unknown key", text: () => base() + "queue_length = 4\n", line: 10, key: "export.a.queue_length" },
  { what: "duplicate shelf.slot", text: () => base() + `[export.b]\npath = "${img}"\nshelf = 3\nslot = 4\n`, line: 12, key: "export.b.shelf" },
  { what: "missing path", text: () => base().replace(/path = .*\n/, ""), line: 6, key: "export.a" },
  { what: "path not there", text: () => base().replace(img, `${dir}/absent.img`), line: 7, key: "export.a.path" },
  { what: "bad MAC", text: () => base() + 'macs = ["00:11:22:33:44:gg"]\n', line: 10, key: "export.a.macs" },
  { what: "wrong type", text: () => base() + 'read_only = "yes"\n', line: 10, key: "export.a.read_only" },
  { what: "shelf out of range", text: () => base().replace("shelf = 3", "shelf = 70000"), line: 8, key: "export.a.shelf" },
  { what: "slot out of range", text: () => base().replace("slot = 4", "slot = 255"), line: 9, key: "export.a.slot" },
  { what: "syntax", text: () => base() + "bufcnt = [\n", line: 10, key: "(syntax)" },
];

describe("a bad file at start: exit 2, FILE:LINE: KEY, nothing opened", () => {
  for (const s of starts) {
    test(s.what, async () => {
      const file = path.join(dir, `bad-${s.what.replace(/\W/g, "")}.toml`);
      writeFileSync(file, s.text());
      for (const args of [["daemon", "-c", file], ["daemon", "--check", "-c", file]]) {
        const r = await run(args);
        expect(r.code).toBe(2);
        expect(r.err.trim().split("\n")).toHaveLength(1);
        expect(r.err).toStartWith(`${file}:${s.line}: ${s.key}: `);
        expect(existsSync(`${dir}/ctl.sock`)).toBe(false);
        expect(existsSync(`${dir}/state`)).toBe(false);
      }
    });
  }

  test("a missing file", async () => {
    const r = await run(["daemon", "-c", `${dir}/none.toml`]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${dir}/none.toml: (file): no such file`);
  });

  test("--check on a good file", async () => {
    const file = path.join(dir, "good.toml");
    writeFileSync(file, base());
    const r = await run(["daemon", "--check", "-c", file]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${file}: OK, 1 export: a (e3.4)\n`);
    expect(existsSync(`${dir}/ctl.sock`)).toBe(false);
  });
});

/** A unix datagram socket of our own standing in for systemd's notify socket. */
function notifySocket(file: string) {
  const fd = libc.socket(1, 2 | 0x800, 0); // AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK
  if (fd < 0) throw new Error(`socket: ${lastError().text}`);
  const { addr, len } = sockaddrUn(file);
  if (libc.bind(fd, addr, len) !== 0) throw new Error(`bind: ${lastError().text}`);
  const buf = new Uint8Array(new ArrayBuffer(4096));
  const got: string[] = [];
  return {
    got,
    drain() {
      for (;;) {
        const n = libc.recvfrom(fd, buf, buf.length, 0, null, null);
        if (n <= 0) return got;
        got.push(new TextDecoder().decode(buf.subarray(0, n)));
      }
    },
    async waitFor(re: RegExp, ms = 10_000) {
      for (const deadline = Date.now() + ms; Date.now() < deadline; await Bun.sleep(20)) {
        if (this.drain().some((m) => re.test(m))) return;
      }
      throw new Error(`no ${re} in ${JSON.stringify(got)}`);
    },
    close: () => libc.close(fd),
  };
}

describe.skipIf(process.platform !== "linux")("sd_notify and the control socket", () => {
  test("READY=1 once serving, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM; socket mode 0600", async () => {
    const file = path.join(dir, "notify.toml");
    writeFileSync(file, base());
    const ns = notifySocket(path.join(dir, "notify.sock"));
    const proc = Bun.spawn([process.execPath, MAIN, "daemon", "-c", file], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1", NOTIFY_SOCKET: path.join(dir, "notify.sock") },
    });
    try {
      await ns.waitFor(/^READY=1/m);
      expect(statSync(`${dir}/ctl.sock`).mode & 0o777).toBe(0o600);
      proc.kill("SIGHUP");
      await ns.waitFor(/^RELOADING=1$/);
      await Bun.sleep(300);
      expect(ns.drain().filter((m) => m.startsWith("READY=1"))).toHaveLength(2);
      proc.kill("SIGTERM");
      await ns.waitFor(/^STOPPING=1$/);
      expect(await proc.exited).toBe(0);
      expect(existsSync(`${dir}/ctl.sock`)).toBe(false);
      const err = await new Response(proc.stderr).text();
      expect(err).not.toContain("Error");
    } finally {
      proc.kill("SIGKILL");
      ns.close();
    }
  });
});

describe.skipIf(process.platform !== "linux")("signals at once", () => {
  test("a SIGTERM sent the moment the start line appears stops the daemon cleanly (exit 0), 12 times in a row", async () => {
    const file = path.join(dir, "early.toml");
    writeFileSync(file, base());
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) {
      // (NODE_ENV=test, which bun test sets, makes consola print warnings only: no start line)
      const env = { ...process.env, NO_COLOR: "1", NODE_ENV: "production", TEST: "" };
      const proc = Bun.spawn([process.execPath, MAIN, "daemon", "-c", file], { stdout: "pipe", stderr: "pipe", env });
      try {
        const seen = Promise.withResolvers<void>();
        let text = "";
        let killed = false;
        const watch = async (stream: ReadableStream<Uint8Array>) => {
          for await (const chunk of stream) {
            text += new TextDecoder().decode(chunk);
            if (!killed && /pid \d+: \d+ exports from /.test(text)) {
              killed = true;
              proc.kill("SIGTERM"); // at once, from the reader of the line
              seen.resolve();
            }
          }
        };
        void watch(proc.stdout);
        void watch(proc.stderr);
        const timer = setTimeout(() => seen.reject(new Error(`no start line within 15 s; the daemon said:\n${text}`)), 15_000);
        await seen.promise.finally(() => clearTimeout(timer));
        codes.push(await proc.exited);
      } finally {
        proc.kill("SIGKILL");
      }
    }
    expect(codes).toEqual(Array(12).fill(0));
  });
});

describe.skipIf(process.platform !== "linux")("the control socket under bad input", () => {
  test("garbage, unknown commands, missing names and an endless line get errors; the daemon goes on", async () => {
    const file = path.join(dir, "ctl.toml");
    writeFileSync(file, base());
    const proc = Bun.spawn([process.execPath, MAIN, "daemon", "-c", file], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    const sock = `${dir}/ctl.sock`;
    try {
      for (let deadline = Date.now() + 15_000; !existsSync(sock); await Bun.sleep(20)) {
        if (Date.now() > deadline) throw new Error("no control socket");
      }
      /** lines sent on one connection → the reply lines */
      const talk = (text: string, replies: number) =>
        new Promise<string[]>((resolve, reject) => {
          let buf = "";
          const timer = setTimeout(() => reject(new Error(`no ${replies} replies to ${JSON.stringify(text.slice(0, 80))}: ${buf}`)), 5000);
          Bun.connect({
            unix: sock,
            socket: {
              open: (s) => void s.write(text),
              data(s, chunk) {
                buf += chunk.toString();
                const lines = buf.split("\n").filter(Boolean);
                if (lines.length >= replies) {
                  clearTimeout(timer);
                  s.end();
                  resolve(lines);
                }
              },
            },
          }).catch(reject);
        });
      const replies = (await talk('not json\n{"cmd":"format-disk"}\n[1]\n{"cmd":"show-mask"}\n\n{"cmd":"show-mask","name":"a"}\n', 5)).map((l) => JSON.parse(l));
      expect(replies).toEqual([
        { ok: false, error: "not JSON" },
        { ok: false, error: "cmd must be one of stats, show-config, targets, reload, show-mask, show-reserve" },
        { ok: false, error: "cmd must be one of stats, show-config, targets, reload, show-mask, show-reserve" },
        { ok: false, error: 'show-mask needs "name"' },
        { ok: true, name: "a", macs: [] },
      ]);
      const long = await talk("x".repeat(100_000), 1);
      expect(JSON.parse(long[0]!)).toEqual({ ok: false, error: "request too long" });
      const stats = JSON.parse((await talk('{"cmd":"stats"}\n', 1))[0]!);
      expect(stats.exports[0].name).toBe("a");
      // the command line's own mistakes: exit 2
      const r = await run(["ctl", "frobnicate", "-s", sock]);
      expect(r.code).toBe(2);
      expect(r.err).toContain('unknown command "frobnicate"');
      expect((await run(["ctl", "show-mask", "-s", sock])).code).toBe(2);
      expect((await run(["top", "-n", "0", "-s", sock])).code).toBe(2);
      const none = await run(["ctl", "stats", "-s", `${dir}/nothing.sock`]);
      expect(none.code).toBe(1);
      expect(none.err).toContain("no aoede daemon listens on");
    } finally {
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    }
  });
});

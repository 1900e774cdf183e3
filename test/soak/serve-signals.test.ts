/**
 * Signals right after serve announces itself: a supervisor or a soak script that
 * signals serve as soon as it is seen must not kill it by the default action
 * (SIGUSR1's is to terminate; SIGTERM's skips the drain and the exit status 0).
 * Found by the soak campaign's lockout phase; serve now installs its handlers
 * before it announces.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { RawClient } from "../helpers/raw-client.ts";
import { startServe } from "../helpers/serve-proc.ts";

setDefaultTimeout(60_000);

let w: VethWorld;
let client: RawClient;
let dir: string;

beforeAll(() => {
  if (!canUseNetns()) return;
  w = makeVethWorld("sig");
  client = new RawClient(w.ifB, w.nsB);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "aoede-soak-sig-"));
  fs.writeFileSync(path.join(dir, "disk.img"), new Uint8Array(1 << 20));
});

afterAll(async () => {
  client?.close();
  await Bun.sleep(50);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  w?.dispose();
});

test.skipIf(!canUseNetns())("SIGUSR1 then SIGTERM at the announcement: counters logged, exit 0, five times over", async () => {
  for (let i = 0; i < 5; i++) {
    const s = await startServe(w.prefix(w.nsA), ["3", String(i), w.ifA, path.join(dir, "disk.img")], client, 3, i);
    s.proc.kill("SIGUSR1");
    s.proc.kill("SIGTERM");
    const code = await s.waitExit(15_000);
    expect(s.proc.signalCode).toBeNull();
    expect(code).toBe(0);
    await s.waitOutput(/e3\.\d+: \d+ frames, .* kernel receive drops/, 5000);
  }
});

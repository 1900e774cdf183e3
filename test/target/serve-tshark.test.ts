/**
 * tshark (Wireshark's dissector) reads a capture of a serve session — discovery,
 * IDENTIFY, reads, writes, errors, config, mask and reserve commands, jumbo-free
 * MTU 1500 — and finds no malformed frame. Skipped without namespaces or tshark.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AtaCmd, BROADCAST_MAC, ConfigCmd, DirectiveCmd, MacMaskCmd, ReserveCmd } from "../../src/aoe/index.ts";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { RawClient } from "../helpers/raw-client.ts";
import { ataFrame, configFrame, mac, maskFrame, rawFrame, readFrame, reserveFrame, writeFrame } from "../helpers/requests.ts";
import { startServe, type ServeProc } from "../helpers/serve-proc.ts";

// Namespaces, serve and tshark: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const hasTshark = Bun.which("tshark") !== null;
const enabled = canUseNetns() && hasTshark;

let world: VethWorld;
let client: RawClient;
let tmp: string;
let serve: ServeProc | undefined;
let capture: ReturnType<typeof Bun.spawn> | undefined;

beforeAll(() => {
  if (!enabled) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "aoede-tshark-"));
  world = makeVethWorld("ts");
  client = new RawClient(world.ifB, world.nsB);
});

afterAll(() => {
  serve?.kill();
  capture?.kill("SIGKILL");
  client?.close();
  world?.dispose();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function tshark(args: string[]): string {
  const r = Bun.spawnSync(["tshark", ...args], { stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  if (r.exitCode !== 0) throw new Error(`tshark ${args.join(" ")} failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

describe.skipIf(!enabled)("tshark", () => {
  test("a capture of a serve session has AoE frames and no malformed ones", async () => {
    const pcap = path.join(tmp, "serve.pcapng");
    capture = Bun.spawn([...world.prefix(world.nsB), "tshark", "-i", world.ifB, "-w", pcap], { stdout: "ignore", stderr: "pipe" });
    // wait until dumpcap says it is capturing
    const reader = capture.stderr as ReadableStream<Uint8Array>;
    let said = "";
    const decoder = new TextDecoder();
    const deadline = Date.now() + 10_000;
    for await (const chunk of reader) {
      said += decoder.decode(chunk);
      if (/Capturing on/.test(said) || Date.now() > deadline) break;
    }
    expect(said).toMatch(/Capturing on/);

    const disk = path.join(tmp, "disk.img");
    fs.closeSync(fs.openSync(disk, "w"));
    fs.truncateSync(disk, 4096 * 512);
    serve = await startServe(world.prefix(world.nsA), ["3", "1", world.ifA, disk], client, 3, 1);
    const at = client.to(mac(world.macA), 3, 1);
    const ask = async (build: (tag: number) => Uint8Array) => {
      const t = client.tag();
      return client.ask(build(t), t);
    };
    const silent = async (build: (tag: number) => Uint8Array) => {
      const t = client.tag();
      await client.expectSilence(build(t), t, 100);
    };
    await ask((t) => configFrame(client.to(BROADCAST_MAC, 0xffff, 0xff), t, ConfigCmd.Read));
    await ask((t) => configFrame(at, t, ConfigCmd.Set, new TextEncoder().encode("tshark run")));
    await ask((t) => configFrame(at, t, ConfigCmd.Set, new TextEncoder().encode("again")));
    await silent((t) => configFrame(at, t, ConfigCmd.Test, new TextEncoder().encode("nope")));
    await ask((t) => ataFrame(at, t, { cmd: AtaCmd.Identify, count: 1 }));
    await ask((t) => ataFrame(at, t, { cmd: AtaCmd.CheckPower }));
    await ask((t) => writeFrame(at, t, 10, new Uint8Array(1024).fill(7)));
    await ask((t) => writeFrame(at, t, 0xe0000011, new Uint8Array(512).fill(8), false));
    await ask((t) => readFrame(at, t, 10, 2));
    await ask((t) => readFrame(at, t, 0xe0000011, 1, false));
    await ask((t) => readFrame(at, t, 4096, 1)); // IDNF
    await ask((t) => readFrame(at, t, 0, 3)); // AoE error 2
    await ask((t) => ataFrame(at, t, { cmd: 0xc8, count: 1 })); // ABRT
    await ask((t) => ataFrame(at, t, { cmd: AtaCmd.FlushExt }));
    await ask((t) => rawFrame(at, t, 0x42)); // AoE error 1
    await ask((t) => ataFrame(at, t, { cmd: AtaCmd.CheckPower, version: 2 })); // AoE error 5
    await ask((t) => maskFrame(at, t, MacMaskCmd.Edit, [{ dcmd: DirectiveCmd.Add, mac: client.mac }, { dcmd: DirectiveCmd.Add, mac: mac("02:00:5e:00:00:01") }]));
    await ask((t) => maskFrame(at, t, MacMaskCmd.Read));
    await ask((t) => maskFrame(at, t, MacMaskCmd.Edit, [{ dcmd: DirectiveCmd.Delete, mac: client.mac }, { dcmd: DirectiveCmd.Delete, mac: mac("02:00:5e:00:00:01") }]));
    await ask((t) => reserveFrame(at, t, ReserveCmd.Set, [client.mac]));
    await ask((t) => reserveFrame({ ...at, src: mac("02:00:5e:00:00:02") }, t, ReserveCmd.Set, [mac("02:00:5e:00:00:02")])); // error 6
    await ask((t) => reserveFrame(at, t, ReserveCmd.Set, []));
    expect(await serve.stop()).toBe(0);
    await Bun.sleep(300); // let dumpcap write the last frames
    capture.kill("SIGINT");
    await capture.exited;

    const all = tshark(["-r", pcap, "-T", "fields", "-e", "aoe.cmd"]).trim().split("\n").filter(Boolean);
    expect(all.length).toBeGreaterThanOrEqual(40);
    const malformed = tshark(["-r", pcap, "-Y", "_ws.malformed"]).trim();
    expect(malformed).toBe("");
    // tshark pairs ATA replies with their requests (it tracks ATA only): ours echo tag and command
    const responses = tshark(["-r", pcap, "-Y", "aoe.response == 1 && aoe.response_to", "-T", "fields", "-e", "frame.number"]).trim().split("\n").filter(Boolean);
    expect(responses.length).toBeGreaterThanOrEqual(10);
  }, 60_000);
});

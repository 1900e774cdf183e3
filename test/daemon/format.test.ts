/**
 * The monitor's arithmetic and text (pure): rates between two samples, the first
 * one since the start, a reopened export's counters starting again, name globs,
 * and ggaoectl's MAC list layout.
 */
import { expect, test } from "bun:test";
import { formatMacList, formatTop, rates } from "../../src/daemon/format.ts";
import type { ExportStats, StatsReply } from "../../src/daemon/protocol.ts";

const exp = (name: string, o: Partial<ExportStats>): ExportStats => ({
  name,
  target: "e1.1",
  path: "/x",
  readOnly: false,
  interfaces: ["eth0"],
  reads: 0,
  writes: 0,
  readBytes: 0,
  writeBytes: 0,
  other: 0,
  inFlight: 0,
  queued: 0,
  errors: 0,
  busyDropped: 0,
  initiators: {},
  ...o,
});
const sample = (uptimeMs: number, exports: ExportStats[]): StatsReply => ({
  ok: true,
  pid: 1,
  uptimeMs,
  exports,
  interfaces: [{ name: "eth0", up: true, mac: "02:00:00:00:00:01", mtu: 1500, rxFrames: uptimeMs, rxBytes: uptimeMs * 60, txFrames: 0, txBytes: 0, drops: 1, exports: ["d"] }],
});

test("first block: averages since the start; then the interval", () => {
  const s1 = sample(10_000, [exp("d", { reads: 1000, readBytes: 1024 * 1000, initiators: { "52:54:00:00:00:01": 1000 } })]);
  const t1 = rates(undefined, s1);
  expect(t1.intervalS).toBe(10);
  expect(t1.exports[0]).toMatchObject({ readsPerS: 100, readKBps: 100, writesPerS: 0, initiators: { "52:54:00:00:00:01": 100 } });
  expect(t1.interfaces[0]).toMatchObject({ rxPerS: 1000, rxKBps: 58.59, drops: 1 });
  const s2 = sample(12_000, [exp("d", { reads: 1400, readBytes: 1024 * 1400, writes: 10, writeBytes: 5120, errors: 2 })]);
  const t2 = rates(s1, s2);
  expect(t2.intervalS).toBe(2);
  expect(t2.exports[0]).toMatchObject({ readsPerS: 200, readKBps: 200, writesPerS: 5, writeKBps: 2.5, errors: 2, totals: { reads: 1400, readBytes: 1400 * 1024 } });
  expect(t2.interfaces[0]!.drops).toBe(0);
});

test("a reopened export's counters start again: its interval starts at zero", () => {
  const t = rates(sample(1000, [exp("d", { reads: 500 })]), sample(2000, [exp("d", { reads: 50 })]));
  expect(t.exports[0]!.readsPerS).toBe(50);
});

test("names filter exports and interfaces by glob; rows by name", () => {
  const s = sample(1000, [exp("zz", {}), exp("disk1", {}), exp("disk0", {})]);
  expect(rates(undefined, s, ["disk*"]).exports.map((e) => e.name)).toEqual(["disk0", "disk1"]);
  expect(rates(undefined, s, ["disk*"]).interfaces).toEqual([]);
  expect(rates(undefined, s, ["eth?"]).interfaces.map((i) => i.name)).toEqual(["eth0"]);
  expect(rates(undefined, s).exports.map((e) => e.name)).toEqual(["disk0", "disk1", "zz"]);
});

test("text: the export, initiator and net blocks, name column as wide as the longest name", () => {
  const text = formatTop(rates(undefined, sample(1000, [exp("d", { reads: 3, readBytes: 3072, initiators: { "52:54:00:00:00:01": 3 } })])));
  expect(text.split("\n")).toEqual([
    "dev   target      r/s      rkB/s      w/s      wkB/s   oth/s inflt queue  err",
    "d     e1.1          3.0       3.00      0.0       0.00     0.0     0     0    0",
    "",
    "initiator          dev     req/s",
    "52:54:00:00:00:01  d         3.0",
    "",
    "net   state     rx/s      rkB/s     tx/s      tkB/s  drp",
    "eth0  up      1000.0      58.59      0.0       0.00    1",
    "",
    "",
  ]);
});

test("MAC lists: four a line, a blank line after", () => {
  const macs = ["a", "b", "c", "d", "e"].map((x) => `52:54:00:00:00:0${x}`);
  expect(formatMacList("d", macs)).toBe(`Device d:\n${macs.slice(0, 4).join(" ")}\n${macs[4]}\n\n`);
  expect(formatMacList("d", [])).toBe("Device d:\n\n");
});

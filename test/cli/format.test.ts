/**
 * Golden tests of the output formats: the Plan 9 ctl/devlink text, aoe-stat's
 * table and the --json shapes. The expected text lives in golden/; set
 * UPDATE_GOLDEN=1 to rewrite it after a deliberate change.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatTargetStat, formatCtl, formatDevlink, etherHex } from "../../src/initiator/ctl.ts";
import { formatStatTable, type StatRow } from "../../src/initiator/table.ts";
import { statRowJson, targetStatusJson } from "../../src/initiator/json.ts";
import type { TargetStatus } from "../../src/initiator/status.ts";
import { formatDiscoverTable } from "../../src/initiator/table.ts";
import { discoverRow, discoveredJson, statRow } from "../../src/initiator/views.ts";
import { Target } from "../../src/initiator/target.ts";
import { NetLink } from "../../src/initiator/netlink.ts";
import type { RawLink } from "../../ffi/rawlink.ts";

const dir = join(import.meta.dir, "golden");

function golden(name: string, actual: string) {
  const file = join(dir, name);
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, "utf8"));
}

const mac = (...b: number[]) => new Uint8Array(b);

export const sampleStatus: TargetStatus = {
  name: "e9.0",
  shelf: 9,
  slot: 0,
  state: "up",
  nopen: 1,
  nout: 3,
  nmaxout: 12,
  nframes: 16,
  maxbcnt: 8704,
  maxmtu: 100000,
  fw: 0x4019,
  model: "AoEde virtual disk",
  serial: "9.0:host",
  firmware: "0.1.0",
  features: ["lba", "llba", "ata8"],
  flags: ["up", "jumbo"],
  sizeBytes: 67108864,
  config: "rack 3",
  bufferCount: 16,
  devlinks: [
    {
      addrs: [mac(0x02, 0x00, 0x5e, 0x10, 0x00, 0x01)],
      npkt: 131090,
      resent: 13,
      flags: ["up"],
      rttavg: 0.4,
      mintimer: 10,
      datamtu: 8704,
      nlPath: "eth0",
      nlEa: mac(0x52, 0x54, 0x00, 0xab, 0xcd, 0xef),
      nlFlags: ["up", "jumbo"],
      nlLostjumbo: 0,
      nlDatamtu: 9000,
    },
    {
      addrs: [mac(0x02, 0x00, 0x5e, 0x10, 0x00, 0x01), mac(0x02, 0x00, 0x5e, 0x10, 0x00, 0x02)],
      npkt: 7,
      resent: 2,
      flags: [],
      rttavg: 12.6,
      mintimer: 320,
      datamtu: 1024,
      nlPath: "eth1",
      nlEa: mac(0x52, 0x54, 0x00, 0xab, 0xcd, 0xf0),
      nlFlags: ["up"],
      nlLostjumbo: 5,
      nlDatamtu: 1500,
    },
  ],
};

const rows: StatRow[] = [
  { name: "e1.0", sizeBytes: 67108864, interfaces: ["eth0"], payload: 1024, state: "up" },
  { name: "e9.12", sizeBytes: 2000398934016, interfaces: ["eth0", "eth1"], payload: 8704, state: "up" },
  { name: "e65534.254", interfaces: ["veth0"], state: "down" },
];

describe("Plan 9 ctl text", () => {
  test("Plan 9 %E is 12 hex digits without separators", () => {
    expect(etherHex(mac(0, 0x10, 0xa4, 0xc3, 0xe2, 0xf1))).toBe("0010a4c3e2f1");
  });

  test("ctl keywords and layout", () => {
    expect(formatCtl(sampleStatus)).toBe(
      "state: up\nnopen: 1\nnout: 3\nnmaxout: 12\nnframes: 16\nmaxbcnt: 8704 [maxmtu 100000]\nfw: 4019\n" +
        "model: AoEde virtual disk\nserial: 9.0:host\nfirmware: 0.1.0\nflag: lba llba ata8  up jumbo \n",
    );
  });

  test("devlink keywords and layout", () => {
    expect(formatDevlink(sampleStatus.devlinks[1]!)).toBe(
      "addr: 02005e100001 02005e100002 \nnpkt: 7\nresent: 2\nflag: \nrttavg: 13\nmintimer: 320\ndatamtu: 1024\n" +
        "nl path: eth1\nnl ea: 525400abcdf0\nnl flag: \nnl lostjumbo: 5\nnl datamtu: 1500\n",
    );
  });

  test("stat TARGET text (golden)", () => {
    golden("stat-target.txt", formatTargetStat(sampleStatus));
  });
});

describe("aoe-stat table", () => {
  test("columns (golden)", () => {
    golden("stat-table.txt", formatStatTable(rows));
  });

  test("device right-aligned in 10, size in 15", () => {
    const line = formatStatTable(rows.slice(0, 1));
    expect(line).toBe("      e1.0         0.067GB   eth0  1024 up\n");
  });
});

describe("--json", () => {
  test("stat TARGET --json (golden)", () => {
    golden("stat-target.json", JSON.stringify(targetStatusJson(sampleStatus), null, 2) + "\n");
  });

  test("stat --json (golden)", () => {
    golden("stat-table.json", JSON.stringify(rows.map(statRowJson), null, 2) + "\n");
  });
});

function fakeLink(name: string, mac: Uint8Array, mtu: number): RawLink {
  return {
    name,
    index: 1,
    mac,
    mtu,
    fd: -1,
    open: true,
    stats: { received: 0, truncated: 0, sent: 0, sendDropped: 0, receiveErrors: 0, lastError: undefined },
    receive: () => [],
    send: () => true,
    sendBatch: (f) => f.length,
    refresh() {},
    kernelDrops: () => 0,
    onClose: () => () => {},
    close() {},
  };
}

/** Two targets as discovery leaves them: one multipath at MTU 9000, one with a config string. */
function discovered(): Target[] {
  const eth0 = new NetLink(fakeLink("eth0", mac(0x52, 0x54, 0, 0xab, 0xcd, 0xef), 9000));
  const eth1 = new NetLink(fakeLink("eth1", mac(0x52, 0x54, 0, 0xab, 0xcd, 0xf0), 9000));
  const a = new Target(1, 0, 16);
  a.firmware = 0x4019;
  a.sectorCount = 17;
  a.aoeVersion = 1;
  a.paths.add(eth0, mac(2, 0, 0x5e, 0x10, 0, 1), 17);
  a.paths.add(eth1, mac(2, 0, 0x5e, 0x10, 0, 1), 17);
  a.identify = { sectors: 131072, lba48: true, model: "m", serial: "s", firmware: "f", flush: true, flushExt: true, writeCache: true };
  const b = new Target(9, 12, 64);
  b.firmware = 1;
  b.sectorCount = 2;
  b.aoeVersion = 1;
  b.config = new TextEncoder().encode("rack 3 \u00e9");
  b.paths.add(eth0, mac(2, 0, 0x5e, 0x10, 0, 2), 2);
  return [a, b];
}

describe("discover", () => {
  test("table (golden)", () => {
    golden("discover.txt", formatDiscoverTable(discovered().map(discoverRow)));
  });

  test("--json (golden)", () => {
    golden("discover.json", JSON.stringify(discovered().map(discoveredJson), null, 2) + "\n");
  });

  test("aoe-stat rows of live targets: payload from the paths, interfaces merged", () => {
    const [a, b] = discovered();
    expect(formatStatTable([statRow(a!, true), statRow(b!, false)])).toBe(
      "      e1.0         0.067GB eth0,eth1  8704 up\n     e9.12            (NA)   eth0  1024 down\n",
    );
  });
});

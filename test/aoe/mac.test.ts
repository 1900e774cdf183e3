import { describe, expect, test } from "bun:test";
import { BROADCAST_MAC, formatMac, isMulticast, macEquals, parseMac } from "../../src/aoe/index.ts";

describe("parseMac", () => {
  const good: [string, string][] = [
    ["00:11:22:33:44:55", "00:11:22:33:44:55"],
    ["00-11-22-33-44-55", "00:11:22:33:44:55"],
    ["001122334455", "00:11:22:33:44:55"],
    ["AA:bb:CC:dd:EE:ff", "aa:bb:cc:dd:ee:ff"],
    ["0:1:2:3:4:5", "00:01:02:03:04:05"],
    [" 52:54:00:12:34:56 ", "52:54:00:12:34:56"],
    ["FFFFFFFFFFFF", "ff:ff:ff:ff:ff:ff"],
  ];
  for (const [input, want] of good) {
    test(`accepts ${JSON.stringify(input)}`, () => expect(formatMac(parseMac(input))).toBe(want));
  }
  const bad = ["", "00:11:22:33:44", "00:11:22:33:44:55:66", "00:11-22:33:44:55", "0011223344", "00112233445g", "001:22:33:44:55:66", "zz:11:22:33:44:55", "00::11:22:33:44"];
  for (const input of bad) {
    test(`rejects ${JSON.stringify(input)} with a clear Error`, () => {
      expect(() => parseMac(input)).toThrow(/invalid MAC address/);
    });
  }
});

describe("mac helpers", () => {
  test("formatMac is lower-case with colons", () => expect(formatMac(Uint8Array.of(0x0a, 0xbc, 0, 1, 0xff, 0x10))).toBe("0a:bc:00:01:ff:10"));
  test("macEquals", () => {
    expect(macEquals(parseMac("001122334455"), parseMac("00:11:22:33:44:55"))).toBe(true);
    expect(macEquals(parseMac("001122334455"), parseMac("00:11:22:33:44:56"))).toBe(false);
  });
  const multicast: [string, boolean][] = [
    ["ff:ff:ff:ff:ff:ff", true],
    ["01:00:5e:00:00:01", true],
    ["33:33:00:00:00:01", true],
    ["52:54:00:12:34:56", false],
    ["02:00:00:00:00:01", false],
  ];
  for (const [mac, want] of multicast) test(`isMulticast ${mac}`, () => expect(isMulticast(parseMac(mac))).toBe(want));
  test("BROADCAST_MAC", () => expect(formatMac(BROADCAST_MAC)).toBe("ff:ff:ff:ff:ff:ff"));
});

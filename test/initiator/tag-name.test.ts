import { describe, expect, test } from "bun:test";
import { TagAllocator, isUserTag, TAG_USER_BIT } from "../../src/initiator/tag.ts";
import { parseTargetName, formatTargetName } from "../../src/initiator/name.ts";

describe("TagAllocator", () => {
  test("every tag has bit 31 set and is an unsigned 32-bit number", () => {
    const t = new TagAllocator();
    for (let i = 0; i < 1000; i++) {
      const tag = t.next();
      expect(tag).toBeGreaterThanOrEqual(TAG_USER_BIT);
      expect(tag).toBeLessThanOrEqual(0xffff_ffff);
      expect(isUserTag(tag)).toBe(true);
    }
  });

  test("the rest is a sequence number that wraps within the upper half", () => {
    const t = new TagAllocator(0x7fff_fffe);
    expect(t.next()).toBe(0xffff_ffff);
    expect(t.next()).toBe(0x8000_0000);
    expect(t.next()).toBe(0x8000_0001);
  });

  test("kernel-half tags are not ours", () => {
    expect(isUserTag(0x1234)).toBe(false);
  });
});

describe("target names", () => {
  test("e9.0 and 9.0 both parse", () => {
    expect(parseTargetName("e9.0")).toEqual({ shelf: 9, slot: 0 });
    expect(parseTargetName("9.0")).toEqual({ shelf: 9, slot: 0 });
    expect(parseTargetName("e65534.254")).toEqual({ shelf: 65534, slot: 254 });
  });

  test("broadcast addresses and junk do not", () => {
    for (const s of ["e65535.0", "e1.255", "eth0", "e1", "1.2.3", "", "x9.0", "e-1.0"]) {
      expect(parseTargetName(s)).toBeUndefined();
    }
  });

  test("formatted the aoetools way", () => {
    expect(formatTargetName({ shelf: 9, slot: 0 })).toBe("e9.0");
  });
});

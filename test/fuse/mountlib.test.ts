/**
 * The pure parts of mounting, on any system: Linux's option string and mountinfo
 * parsing, and FreeBSD's nmount(2) iovec read back byte by byte from the memory it
 * points to (FreeBSD cannot run here; ffi/freebsd/fuse.ts is unverified).
 */
import { describe, expect, test } from "bun:test";
import { ptr, toArrayBuffer } from "bun:ffi";
import { buildNmountIovec, fusefsMountPairs, IOVEC_LEN } from "../../ffi/freebsd/fuse-iovec.ts";
import { findMount, fuseFsType, isFuseType, linuxMountOptions, parseMountinfo } from "../../ffi/linux/fuse.ts";

describe("Linux mount(2) arguments", () => {
  test("only kernel option names, in the notes' form", () => {
    expect(linuxMountOptions({ fd: 7, uid: 0, gid: 0, allowOther: true, defaultPermissions: true })).toBe(
      "fd=7,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions",
    );
    expect(linuxMountOptions({ fd: 12, uid: 1000, gid: 100, allowOther: false, defaultPermissions: false })).toBe(
      "fd=12,rootmode=40000,user_id=1000,group_id=100",
    );
    expect(fuseFsType("aoede")).toBe("fuse.aoede");
    expect(fuseFsType(undefined)).toBe("fuse");
    expect(["fuse", "fuse.aoede", "fuseblk"].map(isFuseType)).toEqual([true, true, true]);
    expect(["fusectl", "ext4"].map(isFuseType)).toEqual([false, false]);
  });

  const mountinfo = [
    "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw",
    "40 22 0:38 / /sys/fs/fuse/connections rw,relatime shared:14 - fusectl fusectl rw",
    "88 22 0:52 / /tmp/a\\040b rw,nosuid,nodev,relatime shared:40 - fuse.aoede aoede rw,user_id=0,group_id=0,default_permissions,allow_other",
    "89 88 0:53 / /tmp/a\\040b rw,nosuid,nodev,relatime - fuse.aoede aoede rw,user_id=0,group_id=0",
    "garbage line",
    "",
  ].join("\n");

  test("mountinfo: device numbers, unescaped paths, types; malformed lines skipped", () => {
    const m = parseMountinfo(mountinfo);
    expect(m.length).toBe(4);
    expect(m[2]).toEqual({ major: 0, minor: 52, root: "/", mountpoint: "/tmp/a b", fstype: "fuse.aoede", source: "aoede" });
  });

  test("findMount picks the topmost of stacked mounts (the connection to abort)", () => {
    expect(findMount("/tmp/a b", mountinfo)?.minor).toBe(53);
    expect(findMount("/tmp/a b/", mountinfo)?.minor).toBe(53);
    expect(findMount("/tmp/none", mountinfo)).toBeUndefined();
  });
});

describe("FreeBSD nmount(2) iovec for fusefs", () => {
  /** Reads the iovec array back: each (base, len) through the pointer it holds. */
  function readBack(iov: Uint8Array, niov: number): (string | null)[] {
    const v = new DataView(iov.buffer, iov.byteOffset);
    const out: (string | null)[] = [];
    for (let i = 0; i < niov; i++) {
      const base = Number(v.getBigUint64(i * IOVEC_LEN, true));
      const len = Number(v.getBigUint64(i * IOVEC_LEN + 8, true));
      if (base === 0) {
        expect(len).toBe(0);
        out.push(null);
        continue;
      }
      const bytes = new Uint8Array(toArrayBuffer(base as never, 0, len));
      expect(bytes[len - 1]).toBe(0); // iov_len counts the NUL, as build_iovec(..., -1) does
      out.push(new TextDecoder().decode(bytes.subarray(0, len - 1)));
    }
    return out;
  }

  test("name/value pairs in mount_fusefs's order; flags have a NULL, 0-length value", () => {
    const pairs = fusefsMountPairs({ mountpoint: "/mnt/aoe", fd: 5, allowOther: true, defaultPermissions: true, intr: true, subtype: "aoede" });
    const v = buildNmountIovec(pairs);
    expect(v.niov).toBe(16); // 8 pairs
    expect(v.iov.length).toBe(16 * 16);
    expect(readBack(v.iov, v.niov)).toEqual([
      "fstype", "fusefs",
      "fspath", "/mnt/aoe",
      "from", "/dev/fuse",
      "fd", "5",
      "allow_other", null,
      "default_permissions", null,
      "intr", null,
      "subtype=", "aoede",
    ].flat());
  });

  test("exact bytes of the first iovec: base = the string's address, len = 7 for \"fstype\\0\"", () => {
    const v = buildNmountIovec([["fstype", "fusefs"]]);
    const view = new DataView(v.iov.buffer);
    expect(Number(view.getBigUint64(0, true))).toBe(ptr(v.strings[0]!));
    expect(view.getBigUint64(8, true)).toBe(7n);
    expect(Number(view.getBigUint64(16, true))).toBe(ptr(v.strings[1]!));
    expect(view.getBigUint64(24, true)).toBe(7n);
    expect([...v.strings[0]!]).toEqual([...new TextEncoder().encode("fstype"), 0]);
  });

  test("optional flags only when asked; linux_errnos when the server speaks Linux numbers", () => {
    const names = (o: Partial<Parameters<typeof fusefsMountPairs>[0]>) =>
      fusefsMountPairs({ mountpoint: "/m", fd: 3, allowOther: false, defaultPermissions: false, intr: false, ...o }).map(([n]) => n);
    expect(names({})).toEqual(["fstype", "fspath", "from", "fd"]);
    expect(names({ linuxErrnos: true })).toContain("linux_errnos");
  });

  test("a NUL inside an option is refused", () => {
    expect(() => buildNmountIovec([["fspath", "/a\0b"]])).toThrow(RangeError);
  });
});

import { expect, test } from "bun:test";
import { errnoName, errnoTable } from "../../ffi/errno.ts";
import { lastError, libc } from "../../ffi/libc.ts";

test("errno names per platform", () => {
  expect(errnoName(19, "linux")).toBe("ENODEV");
  expect(errnoName(11, "linux")).toBe("EAGAIN");
  expect(errnoName(35, "freebsd")).toBe("EAGAIN");
  expect(errnoName(100, "linux")).toBe("ENETDOWN");
  expect(errnoName(50, "freebsd")).toBe("ENETDOWN");
  expect(errnoName(105, "linux")).toBe("ENOBUFS");
  expect(errnoName(55, "freebsd")).toBe("ENOBUFS");
  expect(errnoName(9999, "linux")).toBe("E9999");
  // every name maps back to its number on both tables
  for (const platform of ["linux", "freebsd"]) {
    for (const [name, n] of Object.entries(errnoTable(platform))) expect(errnoName(n, platform)).toBe(name);
  }
});

test.skipIf(process.platform !== "linux")("lastError reads this thread's errno right after a failed call", () => {
  expect(libc.close(987654)).toBe(-1);
  const e = lastError();
  expect(e.code).toBe("EBADF");
  expect(e.errno).toBe(9);
  expect(e.text).toBe("Bad file descriptor");
});

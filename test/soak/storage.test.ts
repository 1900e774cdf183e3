/**
 * Storage faults under a running serve (soak/storage.ts): ENOSPC, EIO (a FUSE
 * file with a bad stretch, buffered and O_DIRECT), a file system gone read-only.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { canUseNetns } from "../helpers/netns.ts";
import { faultsUnavailable, soakSizes } from "../../soak/sizes.ts";
import { storageCampaign } from "../../soak/storage.ts";

setDefaultTimeout(300_000);

const sizes = soakSizes("ci");

test.skipIf(!canUseNetns() || faultsUnavailable() !== undefined)("ENOSPC, EIO, read-only: ATA errors, counted, no false success, the rest served", async () => {
  const all = await storageCampaign({ imageMiB: sizes.faultImageMiB });
  console.log(`storage figures: ${JSON.stringify(all)}`);
  const by = (name: string) => all.find((f) => f.fault.startsWith(name))!;
  const requests = (sizes.faultImageMiB << 20) / 1024;
  for (const f of all) {
    expect(f.falseSuccess).toBe(0);
    expect(f.serveIoErrors).toBeGreaterThanOrEqual(f.writesFailed + f.readsFailed);
    expect(f.writesOk + f.writesFailed).toBe(requests);
    expect(f.readsOk + f.readsFailed).toBe(requests);
    expect(f.initiatorError).toMatch(/write of \d+ sectors at LBA \d+ failed: ATA status 0x41 error 0x04 \(command aborted \(ABRT\)\)/);
  }
  // ENOSPC: the first half fits the file system, the rest is refused; every read works
  expect(by("ENOSPC").writesOk).toBeGreaterThan(0);
  expect(by("ENOSPC").writesFailed).toBeGreaterThan(0);
  expect(by("ENOSPC").errorBits).toEqual({ "0x41/0x4": by("ENOSPC").writesFailed });
  expect(by("ENOSPC").readsFailed).toBe(0);
  // EIO: exactly the 32 requests of the bad stretch fail, reads with UNC, writes with ABRT
  for (const f of [by("EIO (FUSE)"), by("EIO (FUSE), O_DIRECT")]) {
    expect(f.writesFailed).toBe(32);
    expect(f.readsFailed).toBe(32);
    expect(f.errorBits).toEqual({ "0x41/0x4": 32, "0x41/0x40": 32 });
  }
  // read-only: every write refused, every read served
  expect(by("read-only").writesOk).toBe(0);
  expect(by("read-only").readsFailed).toBe(0);
});

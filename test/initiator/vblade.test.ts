/**
 * The initiator's command line against vblade 25 (Debian's package), a real
 * peer. vblade 25 answers Mac Mask reads but aborts on a Mac Mask edit
 * (glibc's fortify check, "buffer overflow detected", in its addmask): edits
 * are tested against `aoede serve` only.
 */
import { describe } from "bun:test";
import { canUseNetns } from "../helpers/netns.ts";
import { haveVblade, startVblade } from "../helpers/vblade.ts";
import { describeTargetSuite } from "./target-suite.ts";

describe.skipIf(!(canUseNetns() && haveVblade()))("initiator CLI against vblade 25", () => {
  describeTargetSuite({
    label: "vblade",
    tag: "vbl",
    start: (ns, netif, file) => startVblade(ns, netif, 7, 3, file, { bufcnt: 64 }),
    model: "Coraid EtherDrive vblade",
    maskEdits: false,
  });
});

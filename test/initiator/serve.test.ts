/**
 * The initiator's command line against `aoede serve` run as its own process:
 * the same suite as against vblade, Mac Mask edits included.
 */
import { describe } from "bun:test";
import { canUseNetns } from "../helpers/netns.ts";
import { spawnServe } from "../helpers/serve-proc.ts";
import { describeTargetSuite } from "./target-suite.ts";

describe.skipIf(!canUseNetns())("initiator CLI against aoede serve", () => {
  describeTargetSuite({
    label: "serve",
    tag: "srv",
    async start(ns, netif, file) {
      const s = spawnServe(["ip", "netns", "exec", ns], ["-b", "64", "7", "3", netif, file]);
      return {
        async stop() {
          await s.stop();
        },
      };
    },
    model: "AoEde",
    maskEdits: true,
  });
});

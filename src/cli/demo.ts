/**
 * `aoede demo`: a target and an initiator in a private world of two network
 * namespaces on this machine — serve, discover, write, read back, verify — and
 * nothing left behind. The first thing to run; needs root.
 */
import { defineCommand } from "citty";
import { DEMO_DEFAULTS, DemoError, runDemo, Teardown } from "../demo/run.ts";

function intArg(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) {
    console.error(`aoede demo: --${name} must be a whole number, not ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

export default defineCommand({
  meta: {
    name: "demo",
    description:
      "Try AoEde in a private world: serve, discover, write, read back, verify, clean up (root). Example: sudo aoede demo --mtu 9000",
  },
  args: {
    size: { type: "string", description: "MiB of random data to write and read back", default: String(DEMO_DEFAULTS.sizeMiB), valueHint: "MiB" },
    mtu: { type: "string", description: "MTU of the veth pair (9000: jumbo frames)", default: String(DEMO_DEFAULTS.mtu) },
    bufcnt: { type: "string", description: "the target's buffer count (serve -b)", default: String(DEMO_DEFAULTS.bufcnt) },
  },
  async run({ args }) {
    const opts = {
      sizeMiB: intArg("size", args.size, DEMO_DEFAULTS.sizeMiB),
      mtu: intArg("mtu", args.mtu, DEMO_DEFAULTS.mtu),
      bufcnt: intArg("bufcnt", args.bufcnt, DEMO_DEFAULTS.bufcnt),
    };
    const teardown = new Teardown();
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals, code: number) => {
      if (signalled) return;
      signalled = true;
      console.error(`\naoede demo: ${sig}: cleaning up`);
      teardown.run(2000).finally(() => process.exit(code));
    };
    const handlers: [NodeJS.Signals, () => void][] = [
      ["SIGINT", () => onSignal("SIGINT", 130)],
      ["SIGTERM", () => onSignal("SIGTERM", 143)],
      ["SIGHUP", () => onSignal("SIGHUP", 129)],
    ];
    for (const [s, h] of handlers) process.on(s, h);
    // last resort: whatever is still standing when the process leaves
    process.on("exit", () => teardown.runSync());

    let failure: unknown;
    try {
      await runDemo(opts, teardown);
    } catch (e) {
      failure = e;
    }
    if (signalled) return; // the signal handler finishes and exits
    const left = await teardown.run();
    for (const l of left) console.error(`aoede demo: cleanup: ${l}`);
    if (failure instanceof DemoError) {
      console.error(failure.message);
      process.exit(1);
    }
    if (failure) {
      console.error(`aoede demo: FAILED: ${(failure as Error).message ?? failure}`);
      process.exit(1);
    }
    console.log("cleaned up: namespaces, veth pair, image and temporary directory removed");
    console.log("demo passed");
    process.exit(0);
  },
});

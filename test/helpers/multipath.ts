/**
 * A world with two paths between initiator and target: two veth pairs between
 * nsA and nsB, and in nsA a bridge joining both nsA ends, so that a target
 * serving on the bridge (vblade and aoede serve each serve one interface) is
 * reachable from both nsB ends. Taking either nsA end down cuts one path.
 */
import { makeVethWorld, type VethWorld } from "./netns.ts";

export interface BridgedWorld {
  world: VethWorld;
  /** the bridge in nsA: the target serves here */
  bridge: string;
  bridgeMac: string;
  /** nsA ends (bridge ports) */
  portsA: [string, string];
  /** nsB ends: the initiator's two interfaces */
  ifsB: [string, string];
  macsB: [string, string];
  dispose(): void;
}

export function makeBridgedWorld(tag: string, mtu = 1500): BridgedWorld {
  const world = makeVethWorld(tag, mtu);
  const second = world.addPair(mtu);
  const bridge = `br${tag}`.slice(0, 15);
  const a = (args: string[]) => world.exec(world.nsA, ["ip", ...args]);
  a(["link", "add", bridge, "mtu", String(mtu), "type", "bridge", "stp_state", "0", "forward_delay", "0"]);
  for (const port of [world.ifA, second.ifA]) a(["link", "set", port, "master", bridge]);
  a(["link", "set", bridge, "up"]);
  const out = a(["-o", "link", "show", bridge]);
  const bridgeMac = /link\/ether ([0-9a-f:]{17})/.exec(out)![1]!;
  return {
    world,
    bridge,
    bridgeMac,
    portsA: [world.ifA, second.ifA],
    ifsB: [world.ifB, second.ifB],
    macsB: [world.macB, second.macB],
    dispose: () => world.dispose(),
  };
}

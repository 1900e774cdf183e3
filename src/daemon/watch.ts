/**
 * Interfaces that come and go: on Linux an rtnetlink socket (ffi/linux/rtnetlink.ts)
 * watched by the process's poller, so a daemon with nothing changing never wakes
 * for it. Any link event (or lost events) leads to one rescan of the interfaces a
 * moment later (events come in bursts: created, then up, then carrier), and the
 * rescan decides what to attach or detach: the events are a trigger, not the truth.
 *
 * FreeBSD would read RTM_IFANNOUNCE/RTM_IFINFO from a PF_ROUTE socket the same
 * way (ffi/freebsd/route.ts parses those messages); it is not wired up here, as
 * it could not be run on a FreeBSD kernel: there a reload attaches new interfaces.
 */
import { sharedPoller } from "../../ffi/poller.ts";
import { LinkMonitor } from "../../ffi/linux/rtnetlink.ts";

/** A rescan this long after the first event of a burst. */
const SETTLE_MS = 20;

export interface LinkWatch {
  close(): void;
}

/** Call `onChange` after link events; undefined where links cannot be watched. */
export function watchLinks(onChange: () => void, warn: (message: string) => void): LinkWatch | undefined {
  if (process.platform !== "linux") return undefined;
  let mon: LinkMonitor;
  try {
    mon = LinkMonitor.open();
  } catch (e) {
    warn(`${(e as Error).message}: interfaces that appear later are attached at the next reload`);
    return undefined;
  }
  const poller = sharedPoller();
  let timer: ReturnType<typeof setTimeout> | undefined;
  poller.add(mon.fd, () => {
    let events;
    try {
      events = mon.read();
    } catch (e) {
      warn((e as Error).message);
      events = [];
    }
    if (events.length === 0 && !mon.overrun) return;
    mon.overrun = false;
    timer ??= setTimeout(() => {
      timer = undefined;
      onChange();
    }, SETTLE_MS);
  });
  return {
    close() {
      if (timer) clearTimeout(timer);
      poller.remove(mon.fd);
      mon.close();
    },
  };
}

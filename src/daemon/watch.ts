/**
 * Interfaces that come and go: a link event socket (ffi/link-events.ts: rtnetlink
 * on Linux, the routing socket on FreeBSD) watched by the process's poller, so a
 * daemon with nothing changing never wakes for it. Any link event (or lost events) leads to one rescan of the interfaces a
 * moment later (events come in bursts: created, then up, then carrier), and the
 * rescan decides what to attach or detach: the events are a trigger, not the truth.
 */
import { sharedPoller } from "../../ffi/poller.ts";
import { openLinkEvents, type LinkEventSocket } from "../../ffi/link-events.ts";

/** A rescan this long after the first event of a burst. */
const SETTLE_MS = 20;

export interface LinkWatch {
  close(): void;
}

/** Call `onChange` after link events; undefined where links cannot be watched. */
export function watchLinks(onChange: () => void, warn: (message: string) => void): LinkWatch | undefined {
  let mon: LinkEventSocket;
  try {
    mon = openLinkEvents();
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

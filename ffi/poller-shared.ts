/**
 * The memory the poller's two threads share: an Int32Array over a
 * SharedArrayBuffer. Ownership passes with STATE: while it is POLLING the worker
 * reads the fd list and writes results; while it is READY the main thread reads the
 * results and the worker waits. Imported by both sides; no syscalls here.
 */
export const MAX_FDS = 1024;

export const STATE = 0;
export const SHUTDOWN = 1;
export const NFDS = 2;
export const NREADY = 3;
export const WAKE_FD = 4;
/** errno of the last failed poll() (reported, not fatal) */
export const POLL_ERRNO = 5;
/** how many times the worker handed results over (diagnostics) */
export const HANDOVERS = 6;
/** bumped by the main thread each time it rewrites the fd list */
export const LIST_VERSION = 7;
/** the LIST_VERSION the worker read before the poll() whose results it hands over */
export const RESULT_VERSION = 8;
export const FDS = 16;
/** pairs (fd, revents) */
export const RESULTS = FDS + MAX_FDS;
export const SHARED_INTS = RESULTS + 2 * MAX_FDS;

export const POLLING = 0;
export const READY = 1;

// poll(2) event bits: the same on Linux and FreeBSD.
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

/** Counters of one export (export.ts). */

/** What the export did, for SIGUSR1 and tests. */
export class ExportCounters {
  received = 0;
  notForUs = 0;
  masked = 0;
  malformed = 0;
  /** frames from a group (multicast, broadcast) or all-zero source MAC */
  badSource = 0;
  busyDropped = 0;
  duplicates = 0;
  reads = 0;
  writes = 0;
  sectorsRead = 0;
  sectorsWritten = 0;
  flushes = 0;
  ataErrors = 0;
  aoeErrors = 0;
  ioErrors = 0;
  configCommands = 0;
  maskCommands = 0;
  reserveCommands = 0;
  replies = 0;
}

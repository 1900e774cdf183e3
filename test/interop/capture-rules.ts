/**
 * tshark for the interop tests: a capture started inside a namespace (ready
 * only once it really captures), and the rules an AoE capture must pass, read
 * with Wireshark's own dissector (checkCapture). peers.test.ts uses them.
 */
import { existsSync, readFileSync, statSync } from "node:fs";

export interface Capture {
  file: string;
  /** let dumpcap catch up, stop it (SIGINT), and return what tshark said */
  stop(): Promise<{ captured: number; dropped: number; said: string }>;
  /** SIGKILL if still running (afterAll) */
  kill(): void;
}

/**
 * `tshark -i IF -w FILE` inside `ns`, AoE frames only, classic pcap (read back
 * byte for byte below), a 64 MiB kernel buffer so that a stalled dumpcap loses
 * nothing of a 16 MiB copy. Resolves once tshark says "Capturing on" and the
 * pcap header is on disk: traffic after that is captured.
 */
export async function startCapture(ns: string, ifname: string, file: string): Promise<Capture> {
  const p = Bun.spawn(["ip", "netns", "exec", ns, "tshark", "-i", ifname, "-w", file, "-F", "pcap", "-B", "64", "-f", "ether proto 0x88a2"], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  let said = "";
  const done = (async () => {
    const d = new TextDecoder();
    for await (const chunk of p.stderr) said += d.decode(chunk, { stream: true });
  })().catch(() => {});
  const kill = () => {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  };
  const deadline = Date.now() + 15_000;
  while (!(/Capturing on/.test(said) && existsSync(file) && statSync(file).size >= 24)) {
    if (p.exitCode !== null || Date.now() > deadline) {
      kill();
      throw new Error(`tshark did not start capturing on ${ifname} in ${ns}:\n${said}`);
    }
    await Bun.sleep(20);
  }
  return {
    file,
    kill,
    async stop() {
      await Bun.sleep(300); // frames still in the kernel buffer
      p.kill("SIGINT");
      const t = setTimeout(kill, 10_000);
      await p.exited;
      clearTimeout(t);
      await done;
      const captured = Number(/(\d+) packets? captured/.exec(said)?.[1] ?? -1);
      let dropped = 0;
      for (const m of said.matchAll(/(\d+) packets? dropped/g)) dropped += Number(m[1]);
      return { captured, dropped, said };
    },
  };
}

/** The records of a classic pcap file (what `tshark -F pcap` writes). */
export function readPcap(file: string): Uint8Array[] {
  const b = readFileSync(file);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = v.getUint32(0, true);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`${file}: not a classic pcap file (magic 0x${magic.toString(16)})`);
  const out: Uint8Array[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = v.getUint32(o + 8, le);
    const orig = v.getUint32(o + 12, le);
    if (incl !== orig) throw new Error(`${file}: frame ${out.length + 1} truncated by the capture (${incl} of ${orig} bytes)`);
    out.push(b.subarray(o + 16, o + 16 + incl));
    o += 16 + incl;
  }
  return out;
}

/** What tshark reads from every frame (`tshark -G fields | grep aoe` lists the AoE ones). */
export const FIELDS = [
  "frame.number",
  "frame.protocols",
  "aoe.version",
  "_ws.malformed",
  "_ws.expert.severity",
  "eth.src",
  "eth.dst",
  "aoe.response",
  "aoe.flags_error",
  "aoe.error",
  "aoe.tag",
  "aoe.cmd",
  "aoe.major",
  "aoe.minor",
  "aoe.ata.cmd",
  "aoe.lba",
] as const;

export const BROADCAST = "ff:ff:ff:ff:ff:ff";
const CMD_NAMES = ["ATA", "Query Config", "Mac Mask", "Reserve"];
/** Wireshark's PI_ERROR */
const EXPERT_ERROR = 0x00800000;

export interface CaptureReport {
  frames: number;
  requests: number;
  replies: number;
  /** broadcast requests (discovery), exempt from "gets a reply" */
  broadcasts: number;
  /** unanswered requests followed by the same frame under a new tag */
  resent: number;
  /** unanswered resends whose frame was answered under an earlier tag, after they were sent */
  overtaken: number;
  /** unanswered Query Config test/prefix requests (silent by the spec on a mismatch) */
  silentTests: number;
  /** target start-up announcements: unsolicited Query Config replies, tag 0, broadcast */
  announcements: number;
  /** seconds spent in tshark */
  tsharkSecs: number;
  /** rule -> what broke it (the first few frames) */
  problems: Record<string, string[]>;
}

function tshark(args: string[]): string {
  const r = Bun.spawnSync(["tshark", ...args], { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`tshark ${args.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/**
 * The rules a capture on the initiator's interface must pass. Requests are the
 * frames with the response flag clear, replies those with it set.
 *
 * Dissection (Wireshark's, not ours):
 *   D1 every frame dissects as AoE (`-Y "!aoe"` shows nothing);
 *   D2 no frame is marked malformed or carries expert info of error severity
 *      (`-Y "_ws.malformed || _ws.expert.severity >= error"` shows nothing);
 *   D3 every frame is AoE version 1. With `version0Announcements` (vblade),
 *      one exception: vblade 25 announces itself at start with a Query Config
 *      reply (tag 0, broadcast) whose version nibble is 0 (flags byte 0x08);
 *      Wireshark shows only "Version: 0" for it, so it is recognised from the
 *      raw bytes.
 * Tags:
 *   T1 every request comes from the initiator's MAC, and its tag has bit 31 set
 *      (`bit31`; the Linux driver claims the lower half);
 *   T2 every reply is either a target's start-up announcement (Query Config,
 *      tag 0, broadcast), or answers a request sent earlier in the capture with
 *      the same tag: the same command, back to the request's source, from the
 *      request's destination (unless it was broadcast), from the shelf.slot
 *      asked (unless it was the wildcard);
 *   T3 a unicast request gets at most one reply; a tag is not reused while its
 *      request is unanswered;
 *   T4 every unicast request gets a reply, except one transmission of a frame
 *      that was sent more than once. When the initiator gives a frame up for
 *      lost it sends it again under a new tag: the same frame byte for byte
 *      apart from the tag (bytes 20-23; in these worlds — one path, no jumbo
 *      fallback — a resend is never re-addressed or re-split). So an unanswered
 *      request R is excused when
 *      - resent: a later request is the same frame under another tag; or
 *      - overtaken: an earlier request, the same frame under another tag, was
 *        answered by a reply captured after R was sent. Its reply was late, the
 *        initiator resent (R), and the late reply completed the frame; R's own
 *        reply is owed to nobody, and a busy target may drop it (vblade at MTU
 *        9000 under load drops a burst of jumbo frames now and then).
 *      A chain of transmissions thus ends in an answered one: every frame the
 *      initiator sent was answered in the end. A repeat of a frame answered
 *      before it was sent (the same block read twice) excuses nothing.
 *      - Query Config test and test-prefix (ccmd 1, 2): the AoE spec has a
 *        target whose string does not match stay silent; the initiator resends
 *        until its --timeout and takes the silence as the answer.
 *      Broadcast requests (discovery) are exempt: they ask every target on the
 *      segment, and none, one or several may answer (replies still obey T2).
 * The raw bytes come from the pcap file itself; their tag must equal the one
 * tshark read, frame by frame.
 */
export function checkCapture(file: string, o: { initiator: string; bit31?: boolean; version0Announcements?: boolean }): CaptureReport {
  const t0 = performance.now();
  const problems: Record<string, string[]> = {};
  const add = (rule: string, what: string) => (problems[rule] ??= []).push(what);
  const raw = readPcap(file);
  const lines = tshark(["-r", file, "-T", "fields", ...FIELDS.flatMap((f) => ["-e", f])])
    .split("\n")
    .filter((l) => l !== "");
  const filtered = tshark(["-r", file, "-Y", "!aoe || _ws.malformed || _ws.expert.severity >= error"]).trim();
  const tsharkSecs = (performance.now() - t0) / 1000;
  if (lines.length !== raw.length) add("tshark and the pcap agree", `tshark read ${lines.length} frames, the file holds ${raw.length}`);

  interface Req {
    no: number;
    src: string;
    dst: string;
    cmd: number;
    major: number;
    minor: number;
    tag: number;
    replies: number;
    /** frame number of the first reply */
    answeredAt: number;
    desc: string;
  }
  const reqs: Req[] = [];
  const latest = new Map<number, Req>();
  const rep: CaptureReport = {
    frames: lines.length,
    requests: 0,
    replies: 0,
    broadcasts: 0,
    resent: 0,
    overtaken: 0,
    silentTests: 0,
    announcements: 0,
    tsharkSecs,
    problems,
  };
  const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

  for (const line of lines) {
    const f = line.split("\t");
    const [no, protos, version, malformed, severity, src, dst, response, , error, tagS, cmdS, majorS, minorS, ataCmd, lba] = f as string[] as [
      string, string, string, string, string, string, string, string, string, string, string, string, string, string, string, string,
    ];
    const n = Number(no);
    const isAoe = (protos ?? "").split(":").includes("aoe");
    const tag = Number(tagS);
    const cmd = Number(cmdS);
    const major = Number(majorS);
    const minor = Number(minorS);
    const isReply = response === "1";
    const desc =
      `frame ${n} ${isReply ? "reply" : "request"} tag ${hex(tag)} ${CMD_NAMES[cmd] ?? `cmd ${cmd}`} e${major}.${minor}` +
      (ataCmd ? ` ata 0x${Number(ataCmd).toString(16)}${lba ? ` lba ${Number(lba)}` : ""}` : "") +
      (error ? ` error ${error}` : "");
    if (!isAoe) {
      add("D1 every frame dissects as AoE", `frame ${n}: ${protos}`);
      continue;
    }
    if (malformed) add("D2 no malformed frame", `${desc}: ${malformed}`);
    if ((severity ?? "").split(",").some((s) => Number(s) >= EXPERT_ERROR)) add("D2 no expert error", desc);
    const bytes = raw[n - 1];
    if (version !== "1") {
      // Wireshark dissects AoE version 1 only; of any other it shows just the version.
      const b = bytes ?? new Uint8Array(0);
      const announce =
        b.length >= 24 && (b[14]! & 0x08) !== 0 && b[19] === 1 && new DataView(b.buffer, b.byteOffset).getUint32(20) === 0 && dst === BROADCAST && src !== o.initiator;
      if (o.version0Announcements && announce) rep.announcements++;
      else add("D3 AoE version 1", `frame ${n}: version ${version} from ${src}`);
      continue;
    }
    if (bytes && bytes.length >= 24 && new DataView(bytes.buffer, bytes.byteOffset).getUint32(20) !== tag) {
      add("tshark and the pcap agree", `${desc}: the raw bytes say another tag`);
    }

    if (!isReply) {
      rep.requests++;
      if (src !== o.initiator) add("T1 requests come from the initiator", `${desc} from ${src}`);
      if ((o.bit31 ?? true) && !(tag & 0x8000_0000)) add("T1 request tags have bit 31 set", desc);
      const prior = latest.get(tag);
      if (prior && prior.replies === 0 && prior.dst !== BROADCAST) add("T3 no tag reused while unanswered", `${desc}: also frame ${prior.no}`);
      const r: Req = { no: n, src, dst, cmd, major, minor, tag, replies: 0, answeredAt: 0, desc };
      if (dst === BROADCAST) rep.broadcasts++;
      reqs.push(r);
      latest.set(tag, r);
      continue;
    }
    rep.replies++;
    if (tag === 0 && dst === BROADCAST && cmd === 1) {
      rep.announcements++;
      continue;
    }
    const r = latest.get(tag);
    if (!r) {
      add("T2 every reply's tag was sent in a request before", `${desc} from ${src}`);
      continue;
    }
    const wrong: string[] = [];
    if (cmd !== r.cmd) wrong.push(`command ${cmd} for ${r.cmd}`);
    if (dst !== r.src) wrong.push(`sent to ${dst}, asked by ${r.src}`);
    if (r.dst !== BROADCAST && src !== r.dst) wrong.push(`from ${src}, asked ${r.dst}`);
    if ((r.major !== 0xffff && major !== r.major) || (r.minor !== 0xff && minor !== r.minor)) wrong.push(`from e${major}.${minor}, asked e${r.major}.${r.minor}`);
    if (wrong.length) add("T2 replies match their request", `${desc}: ${wrong.join(", ")} (request frame ${r.no})`);
    if (r.replies++ === 0) r.answeredAt = n;
    if (r.dst !== BROADCAST && r.replies === 2) add("T3 one reply per unicast request", `${desc}: request frame ${r.no} answered twice`);
  }

  // T4: the unanswered unicast requests must be resent (or be a silent config test).
  const keyOf = (b: Uint8Array) => `${Bun.hash(b.subarray(0, 20))}:${Bun.hash(b.subarray(24))}`;
  const sameButTag = (a: Uint8Array, b: Uint8Array) =>
    a.length === b.length && Buffer.compare(a.subarray(0, 20), b.subarray(0, 20)) === 0 && Buffer.compare(a.subarray(24), b.subarray(24)) === 0;
  const byKey = new Map<string, Req[]>();
  for (const r of reqs) {
    const b = raw[r.no - 1];
    if (!b) continue;
    const k = keyOf(b);
    const list = byKey.get(k);
    if (list) list.push(r);
    else byKey.set(k, [r]);
  }
  for (const r of reqs) {
    if (r.replies > 0 || r.dst === BROADCAST) continue;
    const b = raw[r.no - 1];
    if (!b) continue;
    const ccmd = b.length > 29 ? b[29]! & 0x0f : -1;
    if (r.cmd === 1 && (ccmd === 1 || ccmd === 2)) {
      rep.silentTests++;
      continue;
    }
    const same = (byKey.get(keyOf(b)) ?? []).filter((x) => x !== r && sameButTag(raw[x.no - 1]!, b));
    if (same.some((x) => x.no > r.no)) {
      rep.resent++;
      continue;
    }
    if (same.some((x) => x.no < r.no && x.answeredAt > r.no)) {
      rep.overtaken++;
      continue;
    }
    add("T4 every unicast request is answered or resent", `${r.desc} got no reply and was not resent`);
  }
  if (filtered !== "" && !problems["D1 every frame dissects as AoE"] && !problems["D2 no malformed frame"] && !problems["D2 no expert error"]) {
    add("D1/D2 display filter", filtered.split("\n").slice(0, 5).join("\n"));
  }
  return rep;
}

/** The problems, a few per rule, for an error message. */
export function describeProblems(rep: CaptureReport, max = 8): string {
  return Object.entries(rep.problems)
    .map(([rule, list]) => `${rule}: ${list.length} frame(s)\n  ${list.slice(0, max).join("\n  ")}${list.length > max ? "\n  ..." : ""}`)
    .join("\n");
}

/** One line: frames, requests, replies and their kinds. */
export function summary(rep: CaptureReport): string {
  return (
    `${rep.frames} frames: ${rep.requests} requests (${rep.broadcasts} broadcast, ${rep.resent} resent, ${rep.overtaken} overtaken resends, ` +
    `${rep.silentTests} silent config tests), ${rep.replies} replies (${rep.announcements} announcements); tshark ${rep.tsharkSecs.toFixed(1)} s`
  );
}

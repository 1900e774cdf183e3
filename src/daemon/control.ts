/**
 * The control socket: a unix stream socket (mode 0600: root's), one JSON request
 * per line, one JSON reply per line (protocol.ts). It lives in Bun's own event loop,
 * not the poller: a request now and then needs no batching.
 */
import fs from "node:fs";
import path from "node:path";
import type { Socket, UnixSocketListener } from "bun";
import { consola } from "consola";
import { COMMANDS, type Reply, type Request } from "./protocol.ts";

export type ControlHandler = (req: Request) => Reply | Promise<Reply>;

/** A request line longer than this is refused (and the connection closed). */
const MAX_LINE = 64 * 1024;

function parseRequest(line: string): Request | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return "not JSON";
  }
  if (typeof v !== "object" || v === null) return "a request is a JSON object";
  const r = v as { cmd?: unknown; name?: unknown };
  if (typeof r.cmd !== "string" || !(COMMANDS as readonly string[]).includes(r.cmd)) return `cmd must be one of ${COMMANDS.join(", ")}`;
  if ((r.cmd === "show-mask" || r.cmd === "show-reserve") && typeof r.name !== "string") return `${r.cmd} needs "name"`;
  return r as Request;
}

export class ControlServer {
  private constructor(
    readonly path: string,
    private readonly listener: UnixSocketListener<{ buf: string }>,
  ) {}

  /** Listen on `file` (its directory made 0755 if missing; a stale socket replaced). */
  static async listen(file: string, handle: ControlHandler): Promise<ControlServer> {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    if (fs.existsSync(file)) {
      if (await answers(file)) throw new Error(`${file} is in use: is another aoede daemon running? (aoede ctl stats -s ${file})`);
      fs.rmSync(file, { force: true });
    }
    const reply = (s: Socket<{ buf: string }>, r: Reply) => s.write(JSON.stringify(r) + "\n");
    const serveLine = async (s: Socket<{ buf: string }>, line: string) => {
      const req = parseRequest(line);
      if (typeof req === "string") return reply(s, { ok: false, error: req });
      try {
        reply(s, await handle(req));
      } catch (e) {
        reply(s, { ok: false, error: (e as Error).message });
      }
    };
    // bind with a umask that leaves the socket to root alone, then say so explicitly
    const umask = process.umask(0o077);
    let listener: UnixSocketListener<{ buf: string }>;
    try {
      listener = Bun.listen<{ buf: string }>({
        unix: file,
        socket: {
          open(s) {
            s.data = { buf: "" };
          },
          data(s, chunk) {
            s.data.buf += chunk.toString();
            if (s.data.buf.length > MAX_LINE && !s.data.buf.includes("\n")) {
              reply(s, { ok: false, error: "request too long" });
              s.end();
              return;
            }
            let nl: number;
            while ((nl = s.data.buf.indexOf("\n")) >= 0) {
              const line = s.data.buf.slice(0, nl).trim();
              s.data.buf = s.data.buf.slice(nl + 1);
              if (line !== "") void serveLine(s, line);
            }
          },
          error(_s, e) {
            consola.debug(`control socket: ${e.message}`);
          },
        },
      });
    } finally {
      process.umask(umask);
    }
    fs.chmodSync(file, 0o600);
    return new ControlServer(file, listener);
  }

  close(): void {
    this.listener.stop(true);
    fs.rmSync(this.path, { force: true });
  }
}

/** Does a daemon answer on `file`? (a refused or failed connection: no) */
async function answers(file: string): Promise<boolean> {
  try {
    const s = await Bun.connect({ unix: file, socket: { data() {} } });
    s.end();
    return true;
  } catch {
    return false;
  }
}

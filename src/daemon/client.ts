/**
 * The client side of the control socket, for `aoede ctl`, `aoede top` and
 * `aoede stat --targets`: which socket (-s, else the config file's
 * control_socket, else the default), and one request → one reply.
 */
import fs from "node:fs";
import { ConfigError, DEFAULT_CONFIG_FILE, DEFAULT_CONTROL_SOCKET, loadDaemonConfig } from "./config.ts";
import type { Reply, Request } from "./protocol.ts";

/** Something the user must fix (no daemon, bad reply): one line, exit 1. */
export class ControlError extends Error {
  override readonly name = "ControlError";
}

/** -s PATH wins; then -c FILE's (or the default file's, if present) control_socket; then the default. */
export function socketPath(o: { socket?: string; config?: string }): string {
  if (o.socket) return o.socket;
  const file = o.config ?? DEFAULT_CONFIG_FILE;
  if (o.config !== undefined || fs.existsSync(file)) return loadDaemonConfig(file).defaults.controlSocket;
  return DEFAULT_CONTROL_SOCKET;
}

/** One request on a fresh connection; rejects with ControlError if the daemon does not answer within `ms`. */
export async function request<T extends Reply = Reply>(sock: string, req: Request, ms = 30_000): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    let buf = "";
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => finish(() => reject(new ControlError(`no answer from the daemon on ${sock} within ${ms / 1000} s`))), ms);
    Bun.connect({
      unix: sock,
      socket: {
        open(s) {
          s.write(JSON.stringify(req) + "\n");
        },
        data(s, chunk) {
          buf += chunk.toString();
          const nl = buf.indexOf("\n");
          if (nl < 0) return;
          finish(() => {
            try {
              resolve(JSON.parse(buf.slice(0, nl)) as T);
            } catch {
              reject(new ControlError(`the daemon on ${sock} answered something that is not JSON`));
            }
          });
          s.end();
        },
        close() {
          finish(() => reject(new ControlError(`the daemon on ${sock} closed the connection without answering`)));
        },
        error(_s, e) {
          finish(() => reject(new ControlError(`${sock}: ${e.message}`)));
        },
      },
    }).catch((e: Error & { code?: string }) =>
      finish(() =>
        reject(
          new ControlError(
            e.code === "ENOENT" || e.code === "ECONNREFUSED"
              ? `no aoede daemon listens on ${sock} (start it: aoede daemon, or systemctl start aoede)`
              : `cannot reach the daemon on ${sock}: ${e.message}`,
          ),
        ),
      ),
    );
  });
}

/** Run a control command: its exit status, or one line on stderr and exit 1 when the daemon cannot be asked. */
export async function runControl(what: string, fn: () => Promise<number>): Promise<never> {
  try {
    process.exit(await fn());
  } catch (e) {
    if (e instanceof ControlError || e instanceof ConfigError) {
      process.stderr.write(`aoede ${what}: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}

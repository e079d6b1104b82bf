// The caller-script registry: a small HTTP server (node:http, loopback) that startEmulators runs next
// to the speech emulator, which speaks gRPC only. A simulated caller POSTs the lines it is going to
// say under its call's CallSid before the call starts (wire format and local URL in
// infra/caller-scripts/registration.ts); the registry hands them to the speech emulator
// (registerScript), which transcribes that call's utterances as those lines. A call nobody registered
// keeps the default script. Once the stack has a core, the registry also answers what that core
// logged of a call's turns (GET /core-turns), for the simulator's report.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CORE_TURNS_PATH, MAX_CORE_TURNS_WAIT_MS, SCRIPT_REGISTRY_PATH, ScriptRegistration, type CoreTurns } from "../../caller-scripts/registration.js";
import { HttpError, parseJsonBody, readBody } from "./http-kit.js";
import type { SpeechScriptLine } from "./speech-script.js";
import type { z } from "zod";

export interface ScriptRegistryOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Gives the call its lines; throws with a one-line reason when the speech emulator refuses them. */
  register(callSid: string, lines: SpeechScriptLine[]): void;
  log?: (line: string) => void;
}

export interface ScriptRegistry {
  port: number;
  /** "http://127.0.0.1:<port>/caller-scripts": what the simulator POSTs to. */
  url: string;
  stats: {
    /** Scripts registered, and requests refused (bad body, path or method). */
    registered: number;
    refused: number;
  };
  /** Serves GET /core-turns from `log` (the stack's CoreCallLog); until then that path answers 404. */
  serveCoreTurns(log: CoreTurnsSource): void;
  close(): Promise<void>;
}

export interface CoreTurnsSource {
  turnsOf(callSid: string, waitMs: number): Promise<CoreTurns>;
}

/** Far more than any script; a bigger body is refused before it is read. */
const MAX_BODY_BYTES = 1024 * 1024;

export async function startScriptRegistry(options: ScriptRegistryOptions): Promise<ScriptRegistry> {
  const log = options.log ?? ((line: string) => console.error(`[script-registry] ${line}`));
  const stats = { registered: 0, refused: 0 };
  let coreTurns: CoreTurnsSource | undefined;
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://registry");
      const path = url.pathname;
      if (path === CORE_TURNS_PATH) {
        if (req.method !== "GET") throw new HttpError(405, `${req.method} ${path}: GET ?callSid=CA...&waitMs=N`);
        if (!coreTurns) throw new HttpError(404, "no core log here: this registry runs without a core");
        const callSid = url.searchParams.get("callSid")?.trim();
        if (!callSid) throw new HttpError(400, "callSid: required");
        const waitMs = Math.min(Math.max(Number(url.searchParams.get("waitMs")) || 0, 0), MAX_CORE_TURNS_WAIT_MS);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(await coreTurns.turnsOf(callSid, waitMs)));
        return;
      }
      if (path !== SCRIPT_REGISTRY_PATH) throw new HttpError(404, `no such path: ${path} (the registry is at ${SCRIPT_REGISTRY_PATH})`);
      if (req.method !== "POST") throw new HttpError(405, `${req.method} ${path}: POST a JSON { callSid, lines }`);
      const parsed = ScriptRegistration.safeParse(parseJsonBody(await readBody(req, MAX_BODY_BYTES)));
      if (!parsed.success) throw new HttpError(400, firstReason(parsed.error.issues));
      try {
        options.register(parsed.data.callSid, parsed.data.lines);
      } catch (error) {
        throw new HttpError(400, (error as Error).message);
      }
      stats.registered++;
      res.writeHead(204).end();
    } catch (error) {
      const failure = error instanceof HttpError ? error : new HttpError(500, `registry error: ${String(error)}`);
      stats.refused++;
      log(`${req.method} ${req.url} -> ${failure.status}: ${failure.message}`);
      res.writeHead(failure.status, { "content-type": "application/json" }).end(JSON.stringify({ error: failure.message }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}${SCRIPT_REGISTRY_PATH}`,
    stats,
    serveCoreTurns: (log) => void (coreTurns = log),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The first issue as "path: message". A line is a string or an object: when it is neither, say what is
 *  wrong inside the form its type fits (an object line's bad word), not only that no form matched. */
function firstReason(issues: readonly z.core.$ZodIssue[], under: PropertyKey[] = []): string {
  const issue = issues[0]!;
  const path = [...under, ...issue.path];
  if (issue.code === "invalid_union") {
    const fitting = issue.errors.find((form) => form.length > 0 && !(form[0]!.code === "invalid_type" && form[0]!.path.length === 0));
    if (fitting) return firstReason(fitting, path);
  }
  return `${path.map(String).join(".") || "body"}: ${issue.message}`;
}

// The caller-script registry: a small HTTP server (node:http, loopback) that startEmulators runs next
// to the speech emulator, which speaks gRPC only. A simulated caller POSTs the lines it is going to
// say under its call's CallSid before the call starts (wire format and local URL in
// infra/caller-scripts/registration.ts); the registry hands them to the speech emulator
// (registerScript), which transcribes that call's utterances as those lines. A call nobody registered
// keeps the default script. Once the stack has a core, the registry also answers what that core
// logged of a call's turns (GET /core-turns), for the simulator's report. Once linked to the speech
// emulator (serveLiveScripts), it also keeps live scripts, which the softphone adds to line by line.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CORE_TURNS_PATH,
  LIVE_LINES_PATH,
  LiveLine,
  MAX_CORE_TURNS_WAIT_MS,
  SCRIPT_REGISTRY_PATH,
  ScriptRegistration,
  type CoreTurns,
  type LiveScriptStatus,
} from "../../caller-scripts/registration.js";
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
  /** Serves live scripts (`live: true`, POST and GET …/lines) from `speech`; until then those answer 404. */
  serveLiveScripts(speech: LiveScripts): void;
  close(): Promise<void>;
}

/** The speech emulator's live-script side (speech.ts). */
export interface LiveScripts {
  registerLiveScript(callSid: string, lines: SpeechScriptLine[]): void;
  appendLine(callSid: string, line: SpeechScriptLine): void;
  liveScriptStatus(callSid: string): LiveScriptStatus | undefined;
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
  let liveScripts: LiveScripts | undefined;
  const live = () => {
    if (!liveScripts) throw new HttpError(404, "no live scripts here: this registry is not linked to a speech emulator");
    return liveScripts;
  };
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
      if (path === LIVE_LINES_PATH && req.method === "GET") {
        const callSid = url.searchParams.get("callSid")?.trim();
        if (!callSid) throw new HttpError(400, "callSid: required");
        const status = live().liveScriptStatus(callSid);
        if (!status) throw new HttpError(404, `call ${callSid} has no live script`);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(status));
        return;
      }
      if (path !== SCRIPT_REGISTRY_PATH && path !== LIVE_LINES_PATH) throw new HttpError(404, `no such path: ${path} (the registry is at ${SCRIPT_REGISTRY_PATH})`);
      if (req.method !== "POST") throw new HttpError(405, `${req.method} ${path}: POST a JSON ${path === LIVE_LINES_PATH ? "{ callSid, line }" : "{ callSid, lines }"}`);
      const body = parseJsonBody(await readBody(req, MAX_BODY_BYTES));
      if (path === LIVE_LINES_PATH) {
        const parsed = LiveLine.safeParse(body);
        if (!parsed.success) throw new HttpError(400, firstReason(parsed.error.issues));
        const scripts = live();
        if (!scripts.liveScriptStatus(parsed.data.callSid)) throw new HttpError(404, `call ${parsed.data.callSid} has no live script (register it with live: true first)`);
        refusedAs400(() => scripts.appendLine(parsed.data.callSid, parsed.data.line));
        res.writeHead(204).end();
        return;
      }
      const parsed = ScriptRegistration.safeParse(body);
      if (!parsed.success) throw new HttpError(400, firstReason(parsed.error.issues));
      const { callSid, lines } = parsed.data;
      if (parsed.data.live) {
        const scripts = live();
        refusedAs400(() => scripts.registerLiveScript(callSid, lines));
      } else refusedAs400(() => options.register(callSid, lines));
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
    serveLiveScripts: (speech) => void (liveScripts = speech),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Runs what hands lines to the speech emulator; its refusal (a bad line) is the client's 400. */
function refusedAs400(hand: () => void): void {
  try {
    hand();
  } catch (error) {
    throw new HttpError(400, (error as Error).message);
  }
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

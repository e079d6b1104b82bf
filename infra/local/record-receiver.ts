// The business's end of the call records in the local stack: what CALL_RECORD_URL points at. The edge
// POSTs each call's record (protocol/src/call-record.ts) signed with CALL_RECORD_SECRET and retries
// it until a 2xx; this receiver checks the signature before reading anything, parses the record,
// keeps the first delivery of each recordId (a retry is acknowledged, not stored twice) in SQLite on
// disk, and lists what it kept at GET /records. One log line per delivery, without the caller's words.
//
//   POST /records   x-voice-timestamp, x-voice-signature, body: CallRecord
//     -> 200 { "stored": true }              kept
//     -> 200 { "stored": false }             a retry of a record already kept
//     -> 401 { "error": ... }                signature or timestamp refused; nothing read
//     -> 400 { "error": ... }                not a CallRecord; nothing kept
//   GET /records    -> 200 [CallRecord, ...] in the order they arrived
import { mkdirSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import Database from "better-sqlite3";
import { callRecord, RECORD_SIGNATURE_HEADER, RECORD_TIMESTAMP_HEADER, verifyRecordSignature, type CallRecord } from "@voice/protocol/call-record";
import { HttpError, readBody } from "./emulators/http-kit.js";

/** The port `npm start` gives the receiver, next to the booking service (8091) and the script registry (8092). */
export const LOCAL_RECORD_RECEIVER_PORT = 8093;
export const RECORDS_PATH = "/records";
/** A record holds at most a few hundred utterances; a larger body is refused before it is read. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface RecordReceiverOptions {
  /** 0 (default) = a free port; `npm start` uses 8093. */
  port?: number;
  /** The SQLite file; its folder is created. The same path after a restart finds the same records. */
  dbPath: string;
  /** CALL_RECORD_SECRET, the edge's. */
  secret: string;
  /** The clock (ms since the epoch) the replay window is judged on. */
  now?: () => number;
  log?: (line: string) => void;
}

export interface RecordReceiver {
  /** http://127.0.0.1:<port>/records: CALL_RECORD_URL, and where GET lists the records. */
  url: string;
  port: number;
  /** The records kept, in the order they arrived. */
  records(): CallRecord[];
  close(): Promise<void>;
}

export async function startRecordReceiver(options: RecordReceiverOptions): Promise<RecordReceiver> {
  const log = options.log ?? ((line: string) => console.error(`[records] ${line}`));
  const now = options.now ?? Date.now;
  const store = openRecordStore(options.dbPath);

  const receive = async (req: IncomingMessage): Promise<{ stored: boolean }> => {
    const raw = (await readBody(req, MAX_BODY_BYTES)).toString("utf8");
    const signed = await verifyRecordSignature(options.secret, { timestamp: header(req, RECORD_TIMESTAMP_HEADER), signature: header(req, RECORD_SIGNATURE_HEADER) }, raw, now());
    if (!signed.ok) throw new HttpError(401, signed.reason);
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new HttpError(400, "body: not JSON");
    }
    const parsed = callRecord.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new HttpError(400, `${issue.path.join(".") || "body"}: ${issue.message}`);
    }
    const record = parsed.data;
    const stored = store.keep(record, new Date(now()).toISOString());
    const transfer = record.transfer ? ` transfer ${record.transfer.outcome}${record.transfer.returnedToAgent ? " (returned)" : ""}` : "";
    log(
      `record ${record.recordId} call ${record.callSid} ${record.endReason} ${record.durationMs} ms, ` +
        `${record.conversation.length} utterances, ${record.tools.length} tools${transfer}${record.callback ? ", callback asked" : ""}: ${stored ? "stored" : "retry, already stored"}`,
    );
    return { stored };
  };

  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://records").pathname;
    const answer = async (): Promise<[number, unknown]> => {
      if (pathname !== RECORDS_PATH) throw new HttpError(404, `no such path: ${pathname} (records are at ${RECORDS_PATH})`);
      if (req.method === "GET") return [200, store.all()];
      if (req.method === "POST") return [200, await receive(req)];
      throw new HttpError(405, `${req.method} ${pathname}: GET or POST`);
    };
    answer()
      .catch((error: unknown): [number, unknown] => {
        const failure = error instanceof HttpError ? error : new HttpError(500, `receiver error: ${String(error)}`);
        log(`${req.method} ${pathname} refused ${failure.status}: ${failure.message}`);
        return [failure.status, { error: failure.message }];
      })
      .then(([status, body]) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body)))
      .catch(() => res.destroy());
  });
  server.requestTimeout = 10_000;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    store.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${RECORDS_PATH}`,
    port,
    records: () => store.all(),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      store.close();
    },
  };
}

interface RecordStore {
  /** Keeps the record unless one with its recordId is kept already; whether it was kept now. */
  keep(record: CallRecord, receivedAt: string): boolean;
  all(): CallRecord[];
  close(): void;
}

function openRecordStore(dbPath: string): RecordStore {
  mkdirSync(path.dirname(path.resolve(dbPath)), { recursive: true });
  const db = new Database(dbPath);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(`CREATE TABLE IF NOT EXISTS records (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id   TEXT NOT NULL UNIQUE,
    call_sid    TEXT NOT NULL,
    received_at TEXT NOT NULL,
    body        TEXT NOT NULL
  )`);
  const insert = db.prepare<[string, string, string, string]>("INSERT OR IGNORE INTO records (record_id, call_sid, received_at, body) VALUES (?, ?, ?, ?)");
  const all = db.prepare<[], { body: string }>("SELECT body FROM records ORDER BY seq");
  return {
    keep: (record, receivedAt) => insert.run(record.recordId, record.callSid, receivedAt, JSON.stringify(record)).changes === 1,
    all: () => all.all().map((row) => JSON.parse(row.body) as CallRecord),
    close: () => db.close(),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

// The booking service's database: SQLite on disk through better-sqlite3. Its calls are synchronous,
// so a transaction (read the key, decide, write the booking and the reply) runs start to end without
// yielding to the event loop: two requests can never interleave inside one. The partial unique index
// (one live appointment per slot) and BEGIN IMMEDIATE hold the same rules for a second process on the
// same file.
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Appointment, StoredReply } from "./decide.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS appointments (
  id           TEXT PRIMARY KEY,
  slot         TEXT NOT NULL,
  name         TEXT NOT NULL,
  phone        TEXT,
  reason       TEXT,
  call_sid     TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  cancelled_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS appointments_live_slot ON appointments (slot) WHERE cancelled_at IS NULL;
CREATE TABLE IF NOT EXISTS idempotency (
  key         TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  status      INTEGER NOT NULL,
  body        TEXT NOT NULL,
  created_at  TEXT NOT NULL
);
`;

interface AppointmentRow {
  id: string;
  slot: string;
  name: string;
  phone: string | null;
  reason: string | null;
  call_sid: string;
  created_at: string;
}

const toAppointment = (row: AppointmentRow): Appointment => ({
  id: row.id,
  slot: row.slot,
  name: row.name,
  phone: row.phone,
  reason: row.reason,
  callSid: row.call_sid,
  createdAt: row.created_at,
});

/** Reads and writes the shell makes inside a transaction. */
export interface StoreTx {
  storedReply(key: string): StoredReply | undefined;
  saveReply(key: string, reply: StoredReply, createdAt: string): void;
  /** Live (not cancelled) appointments' slots on a date. */
  takenOn(date: string): Set<string>;
  liveAt(slot: string): Appointment | undefined;
  live(id: string): Appointment | undefined;
  /** Whether any appointment, live or cancelled, ever had this id. */
  exists(id: string): boolean;
  insert(appointment: Appointment): void;
  cancel(id: string, cancelledAt: string): void;
}

export interface BookingStore {
  /** Runs `work` in one write transaction (BEGIN IMMEDIATE): all of it is stored, or none. */
  transaction<T>(work: (tx: StoreTx) => T): T;
  /** Live appointments, soonest first. */
  appointments(): Appointment[];
  close(): void;
}

export function openStore(dbPath: string): BookingStore {
  mkdirSync(path.dirname(path.resolve(dbPath)), { recursive: true });
  const db = new Database(dbPath);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  db.exec(SCHEMA);

  const statements = {
    storedReply: db.prepare<[string], StoredReply>("SELECT fingerprint, status, body FROM idempotency WHERE key = ?"),
    saveReply: db.prepare<[string, string, number, string, string]>("INSERT INTO idempotency (key, fingerprint, status, body, created_at) VALUES (?, ?, ?, ?, ?)"),
    takenOn: db.prepare<[string, string], { slot: string }>("SELECT slot FROM appointments WHERE cancelled_at IS NULL AND slot >= ? AND slot < ?"),
    liveAt: db.prepare<[string], AppointmentRow>("SELECT * FROM appointments WHERE cancelled_at IS NULL AND slot = ?"),
    live: db.prepare<[string], AppointmentRow>("SELECT * FROM appointments WHERE cancelled_at IS NULL AND id = ?"),
    exists: db.prepare<[string], { id: string }>("SELECT id FROM appointments WHERE id = ?"),
    insert: db.prepare<[string, string, string, string | null, string | null, string, string]>(
      "INSERT INTO appointments (id, slot, name, phone, reason, call_sid, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ),
    cancel: db.prepare<[string, string]>("UPDATE appointments SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL"),
    appointments: db.prepare<[], AppointmentRow>("SELECT * FROM appointments WHERE cancelled_at IS NULL ORDER BY slot"),
  };

  const tx: StoreTx = {
    storedReply: (key) => statements.storedReply.get(key),
    saveReply: (key, reply, createdAt) => void statements.saveReply.run(key, reply.fingerprint, reply.status, reply.body, createdAt),
    // "YYYY-MM-DDT..." sorts after "YYYY-MM-DD" and before "YYYY-MM-DDU".
    takenOn: (date) => new Set(statements.takenOn.all(date, `${date}U`).map((row) => row.slot)),
    liveAt: (slot) => {
      const row = statements.liveAt.get(slot);
      return row && toAppointment(row);
    },
    live: (id) => {
      const row = statements.live.get(id);
      return row && toAppointment(row);
    },
    exists: (id) => statements.exists.get(id) !== undefined,
    insert: (a) => void statements.insert.run(a.id, a.slot, a.name, a.phone, a.reason, a.callSid, a.createdAt),
    cancel: (id, cancelledAt) => void statements.cancel.run(cancelledAt, id),
  };

  return {
    transaction: (work) => db.transaction(() => work(tx)).immediate(),
    appointments: () => statements.appointments.all().map(toAppointment),
    close: () => db.close(),
  };
}

// The call-record receiver (record-receiver.ts) as part of the local stack: its database in a
// temporary folder removed at stop, unless a path is given (`npm start` keeps it under infra/.build).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startRecordReceiver, type RecordReceiver } from "./record-receiver.js";

export interface LocalRecordsOptions {
  /** 0 (default) = a free port; `npm start` uses 8093. */
  port?: number;
  /** Default: a temporary folder, removed at stop. */
  dbPath?: string;
  log?: (line: string) => void;
}

export interface LocalRecords {
  receiver: RecordReceiver;
  stop(): Promise<void>;
}

export async function startLocalRecords(options: LocalRecordsOptions, secret: string): Promise<LocalRecords> {
  const scratch = options.dbPath === undefined ? mkdtempSync(path.join(tmpdir(), "voice-records-")) : undefined;
  const removeScratch = () => scratch && rmSync(scratch, { recursive: true, force: true });
  try {
    const receiver = await startRecordReceiver({
      port: options.port ?? 0,
      dbPath: options.dbPath ?? path.join(scratch!, "records.db"),
      secret,
      ...(options.log && { log: options.log }),
    });
    return {
      receiver,
      async stop() {
        await receiver.close();
        removeScratch();
      },
    };
  } catch (error) {
    removeScratch();
    throw error;
  }
}

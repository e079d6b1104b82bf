// Structured logging in Cloud Logging's shape: one JSON object per line with `severity`, `message`
// and an ISO `timestamp`. Writes go through an asynchronous destination so a log call on the hot
// path never blocks on stdout. No secret reaches a line (redact.ts).
import pino, { type DestinationStream, type Logger } from "pino";
import { secretRedactor } from "./redact.js";

export type { Logger };

const SEVERITY: Record<string, string> = {
  trace: "DEBUG",
  debug: "DEBUG",
  info: "INFO",
  warn: "WARNING",
  error: "ERROR",
  fatal: "CRITICAL",
};

export interface LoggerOptions {
  level: "trace" | "debug" | "info" | "warn" | "error" | "fatal";
  /** DEBUG=true turns on verbose output (debug level) whatever LOG_LEVEL says. */
  debug: boolean;
  /** Where lines go; stdout (asynchronously) when omitted. Tests pass a stream to read them. */
  destination?: DestinationStream;
  /** Values never written (config.ts configSecrets: CORE_SHARED_SECRET, OPENAI_API_KEY, TOOL_SIGNING_SECRET...): replaced wherever they appear in a line. */
  secrets?: ReadonlyArray<string | undefined>;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.debug && options.level !== "trace" ? "debug" : options.level;
  return pino(
    {
      level,
      messageKey: "message",
      base: undefined,
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ severity: SEVERITY[label] ?? "DEFAULT" }) },
      hooks: { streamWrite: secretRedactor(options.secrets ?? []) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

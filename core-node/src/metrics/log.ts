// Structured logging in Cloud Logging's shape: one JSON object per line with `severity`, `message`
// and an ISO `timestamp`. Writes go through an asynchronous destination so a log call on the hot
// path never blocks on stdout. No secret reaches a line (redact.ts), and callers' words reach it only
// as LOG_TRANSCRIPTS allows (redact-words.ts): every log call's fields and message pass that filter
// here, so a new line cannot forget it. An Error logged (as `error`, or as the call's first
// argument) becomes its message, and at ERROR and above its stack for Error Reporting (error-report.ts).
import pino, { type DestinationStream, type Logger } from "pino";
import { errorFields, type ServiceContext } from "./error-report.js";
import { secretRedactor } from "./redact.js";
import { callerWordsFilter, type LogTranscripts } from "./redact-words.js";

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
  /** LOG_TRANSCRIPTS: what becomes of the words in a line (redact-words.ts WORD_FIELDS); "redacted" when omitted. */
  transcripts?: LogTranscripts;
  /** Error Reporting's serviceContext on error lines (Cloud Run's K_SERVICE and K_REVISION); DEFAULT_SERVICE when omitted. */
  service?: ServiceContext;
}

/** The Cloud Run service's name (infra/cloudrun/service.yaml), for a core that does not know its own. */
export const DEFAULT_SERVICE: ServiceContext = { service: "voice-core" };

/** pino's level number of "error": lines at it and above carry an Error's stack. */
const ERROR_LEVEL = 50;

export function createLogger(options: LoggerOptions): Logger {
  const level = options.debug && options.level !== "trace" ? "debug" : options.level;
  const secrets = secretRedactor(options.secrets ?? []);
  const words = callerWordsFilter(options.transcripts ?? "redacted", secrets);
  const service = options.service ?? DEFAULT_SERVICE;
  return pino(
    {
      level,
      messageKey: "message",
      base: undefined,
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ severity: SEVERITY[label] ?? "DEFAULT" }) },
      hooks: {
        logMethod(args, method, levelNumber) {
          // pino's call forms: (fields, message?, ...) or (message, ...); an Error given as the fields stands for { error }.
          const filtered = (args as unknown[]).map((arg, index) => {
            if (typeof arg === "string") return words.message(arg);
            if (index !== 0) return arg;
            const fields = arg instanceof Error ? { error: arg } : arg;
            return isPlainObject(fields) ? words.fields(errorFields(fields, levelNumber >= ERROR_LEVEL, service)) : arg;
          });
          return method.apply(this, filtered as Parameters<typeof method>);
        },
        streamWrite: secrets,
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

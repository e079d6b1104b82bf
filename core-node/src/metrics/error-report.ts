// An Error in a log call, as Cloud Logging and Error Reporting read it. Pure: a log call's fields in,
// the same with the Error turned into text out. The error's message becomes `error` on every line;
// a line at ERROR or above also gets the stack as `stack_trace` (the field Error Reporting reads
// first), the ReportedErrorEvent `@type` (so the line is taken as an error event whatever else it
// holds) and `serviceContext` (the service and revision the errors are grouped under).
//
// The stack is its header ("TypeError: <message>") and its frames, which are code locations; the
// message is the only part that may quote a caller's words or a secret, and the logger redacts
// `error` and `stack_trace` alike (redact-words.ts QUOTING_FIELDS; redact.ts on the whole line).

export const REPORTED_ERROR_EVENT = "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent";

/** Error Reporting's grouping of errors by service and version (Cloud Run's K_SERVICE and K_REVISION). */
export interface ServiceContext {
  service: string;
  version?: string;
}

/** A client library's message can hold kilobytes of retry history: the line keeps its start. */
const MAX_MESSAGE_CHARS = 300;
/** Frames kept: Node keeps 10 by default; a raised Error.stackTraceLimit must not make lines huge. */
const MAX_FRAMES = 30;
/** pino's own key for an Error, and ours. */
const ERROR_KEYS = ["error", "err"] as const;

/** An error's message (or a thrown value's text) cut to MAX_MESSAGE_CHARS: what a line says of an error it does not log itself. */
export function errorText(error: unknown): string {
  return shortened(error instanceof Error ? error.message : String(error));
}

/** `fields` with an Error under `error` or `err` made text (see above); the same object when there is none. */
export function errorFields(fields: Record<string, unknown>, atErrorLevel: boolean, service: ServiceContext): Record<string, unknown> {
  const key = ERROR_KEYS.find((name) => fields[name] instanceof Error);
  if (key === undefined) {
    // Something else thrown (a string, an object): its text, never its fields unread into the line.
    const thrown = fields.error;
    return thrown === undefined || thrown === null || typeof thrown === "string" ? fields : { ...fields, error: errorText(thrown) };
  }
  const error = fields[key] as Error;
  const { [key]: _error, ...rest } = fields;
  const message = errorMessage(error);
  if (!atErrorLevel) return { ...rest, error: message };
  return { ...rest, error: message, stack_trace: stackTrace(error, message), "@type": REPORTED_ERROR_EVENT, serviceContext: service };
}

/** The message on one line, cut to MAX_MESSAGE_CHARS. */
function errorMessage(error: Error): string {
  return shortened(error.message.replace(/\s*\n\s*/g, " "));
}

function shortened(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

/**
 * V8's stack format (what Error Reporting parses for JavaScript): "<name>: <message>", then one
 * "    at ..." line per frame. Rebuilt from the frames with the shortened message, so the message is
 * on the line once and never whole (V8 puts all of it, every line, before the frames).
 */
function stackTrace(error: Error, message: string): string {
  const frames = (error.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line)).slice(0, MAX_FRAMES);
  return [`${error.name}: ${message}`, ...frames].join("\n");
}

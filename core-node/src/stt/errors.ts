// Which recognition failures a new stream may fix, from the gRPC status (or the transport's message)
// the failure carries.
import { status } from "@grpc/grpc-js";

const RETRYABLE_CODES = new Set<number>([
  status.UNAVAILABLE,
  status.INTERNAL,
  status.DEADLINE_EXCEEDED,
  // Google's "Audio Timeout Error" and "Exceeded maximum allowed stream duration" both come as OUT_OF_RANGE.
  status.OUT_OF_RANGE,
  status.ABORTED,
  status.RESOURCE_EXHAUSTED,
  status.UNKNOWN,
  // Not ours (our own cancel is never reported): the connection or the service dropped the call.
  status.CANCELLED,
]);

/** Transport failures that reach us without a gRPC status (HTTP/2 resets, sockets torn down). */
const TRANSPORT_FAILURE = /RST_STREAM|ECONNRESET|connection reset|socket hang up|stream (was )?destroyed|GOAWAY/i;

export interface SttErrorClass {
  /** The gRPC status name, or what the failure was when it has none. */
  code: string;
  retryable: boolean;
}

/**
 * Whether a new stream may fix what ended this one. Bad requests, credentials and permissions
 * (INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, ...) fail the same way every time.
 */
export function classifySttError(error: unknown): SttErrorClass {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "number" && status[code] !== undefined) {
    return { code: status[code], retryable: RETRYABLE_CODES.has(code) };
  }
  const message = error instanceof Error ? error.message : String(error);
  if (TRANSPORT_FAILURE.test(message)) return { code: "RESET", retryable: true };
  // Our own verdicts: the service ended the stream without a status, or it stopped answering.
  if (code === "ENDED" || code === "STALLED") return { code, retryable: true };
  return { code: "UNKNOWN", retryable: true };
}

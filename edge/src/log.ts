// One JSON line per event, in Cloud Logging's shape ({severity, message, ...fields}), so edge and
// core logs read the same way.
export type Severity = "DEBUG" | "INFO" | "WARNING" | "ERROR";

export function logEvent(severity: Severity, message: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ severity, message, ...fields });
  if (severity === "ERROR" || severity === "WARNING") console.error(line);
  else console.log(line);
}

/** A thrown value as one short string for a log field. */
export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

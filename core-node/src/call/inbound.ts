// Frames from the edge: decoded, parsed and checked against the link's schema. A frame that fails
// comes back with a one-line reason (the session logs it and drops the frame; the call goes on).
import { edgeToCore, peekEvent, type EdgeToCore } from "@voice/protocol";
import type { RawData } from "ws";
import type { z } from "zod";

export type Inbound = { ok: true; frame: EdgeToCore } | { ok: false; reason: string; event?: string };

export function parseInbound(data: RawData, isBinary: boolean): Inbound {
  if (isBinary) return { ok: false, reason: "binary frame (the call link carries JSON text frames only)" };
  const text = Buffer.isBuffer(data)
    ? data.toString("utf8")
    : Array.isArray(data)
      ? Buffer.concat(data).toString("utf8")
      : Buffer.from(data).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: "not JSON", event: peekEvent(text) };
  }
  const parsed = edgeToCore.safeParse(json);
  if (!parsed.success) return { ok: false, reason: issueSummary(parsed.error), event: peekEvent(text) };
  return { ok: true, frame: parsed.data };
}

/** The first few problems of a frame that failed validation, as one short line. */
function issueSummary(error: z.ZodError): string {
  let issues = error.issues;
  // edgeToCore is a union (Twilio frames | our own messages): report the branch that came closest.
  const only = issues[0];
  if (issues.length === 1 && only?.code === "invalid_union" && only.errors.length > 0) {
    issues = only.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
  }
  return issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "frame"}: ${issue.message}`)
    .join("; ");
}

// The TwiML documents the edge answers Twilio with. Every value written into them is escaped:
// numbers and texts come from settings, the reason from the model. Pure.

const XML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => XML_ESCAPES[char]!);
}

function document(verbs: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Response>${verbs}</Response>`;
}

function say(language: string, text: string): string {
  return `<Say language="${escapeXml(language)}">${escapeXml(text)}</Say>`;
}

/**
 * Streams the call to `streamUrl`; per-call values travel as <Parameter>s (Twilio drops query
 * strings). When the stream ends Twilio asks `actionUrl` what next.
 */
export function connectStreamTwiml(streamUrl: string, parameters: Record<string, string>, actionUrl: string): string {
  const params = Object.entries(parameters)
    .map(([name, value]) => `<Parameter name="${escapeXml(name)}" value="${escapeXml(value)}"/>`)
    .join("");
  return document(`<Connect action="${escapeXml(actionUrl)}"><Stream url="${escapeXml(streamUrl)}">${params}</Stream></Connect>`);
}

export function hangupTwiml(): string {
  return document("<Hangup/>");
}

export interface StaffDial {
  staffNumber: string;
  /** Seconds the staff number may ring. */
  timeoutS: number;
  /** Shown to the staff member: the caller's own number, when Twilio gave one. */
  callerId: string | undefined;
  /** Twilio posts DialCallStatus here once the dial is over. */
  actionUrl: string;
  /** TwiML the staff member hears on answering, before the two are connected. */
  whisperUrl: string;
}

export function dialStaffTwiml(dial: StaffDial): string {
  const callerId = dial.callerId ? ` callerId="${escapeXml(dial.callerId)}"` : "";
  return document(
    `<Dial action="${escapeXml(dial.actionUrl)}" timeout="${dial.timeoutS}"${callerId}>` +
      `<Number url="${escapeXml(dial.whisperUrl)}">${escapeXml(dial.staffNumber)}</Number></Dial>`,
  );
}

/** The human fallback: an apology, then the fallback number, or a hang-up when there is none. */
export function fallbackTwiml(language: string, text: string, fallbackNumber: string | null): string {
  const next = fallbackNumber ? `<Dial>${escapeXml(fallbackNumber)}</Dial>` : "<Hangup/>";
  return document(say(language, text) + next);
}

/** A short spoken message and nothing else (the whisper: the call is connected once it ends). */
export function sayTwiml(language: string, text: string): string {
  return document(say(language, text));
}

// The last line of defence against a secret in the logs: every line is scanned, as written, for the
// process's own secrets (CORE_SHARED_SECRET, OPENAI_API_KEY, TOOL_SIGNING_SECRET) and for the shapes credentials take
// (bearer tokens, OpenAI keys, private keys and the secret fields of a Google key file). A client
// library's error message may quote a request, a header or a key file; none of it reaches stdout.
// Each check is a substring search first, so a clean line costs a few microseconds.

const REDACTED = "[redacted]";
/** Shorter values would match ordinary words; the config requires 16 characters of the shared secret. */
const MIN_SECRET_CHARS = 8;

/** Each pattern runs only on a line that contains one of its markers. */
const PATTERNS: Array<{ markers: string[]; pattern: RegExp; replacement: string }> = [
  { markers: ["Bearer"], pattern: /Bearer\s+[A-Za-z0-9._~+/=-]+/g, replacement: `Bearer ${REDACTED}` },
  { markers: ["sk-"], pattern: /\bsk-[A-Za-z0-9_-]{16,}/g, replacement: `sk-${REDACTED}` },
  // Inside a JSON line a PEM block's newlines are escaped and it has no quote: it ends at its END line or the string's end.
  { markers: ["PRIVATE KEY-----"], pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----[^"]*?(?:-----END [A-Z ]*PRIVATE KEY-----|(?=\\?"))/g, replacement: REDACTED },
  {
    markers: ["private_key", "client_secret", "refresh_token"],
    pattern: /(\\*"(?:private_key|private_key_id|client_secret|refresh_token)\\*"\s*:\s*\\*")[^"\\]*/g,
    replacement: `$1${REDACTED}`,
  },
];

/** A function that returns `line` with every secret and credential-shaped text replaced. */
export function secretRedactor(secrets: ReadonlyArray<string | undefined>): (line: string) => string {
  const values = [
    ...new Set(
      secrets
        .filter((secret): secret is string => secret !== undefined && secret.length >= MIN_SECRET_CHARS)
        // A log line is JSON: the value may appear escaped.
        .flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)]),
    ),
  ];
  return (line) => {
    let out = line;
    for (const value of values) if (out.includes(value)) out = out.replaceAll(value, REDACTED);
    for (const { markers, pattern, replacement } of PATTERNS) {
      if (markers.some((marker) => out.includes(marker))) out = out.replace(pattern, replacement);
    }
    return out;
  };
}

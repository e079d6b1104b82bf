// Credentials checked where it costs no network call: is the Google key file there, readable, and
// shaped like a key Google's libraries can use; is there an OpenAI key at all. A deploy with bad
// credentials then fails warmup with a message naming the variable and what is wrong with it,
// rather than with whatever a client library says on the first call.
import { createPrivateKey } from "node:crypto";
import { readFile } from "node:fs/promises";

/** Problems with the Google key file at `path` (GOOGLE_APPLICATION_CREDENTIALS), none when it looks usable. */
export async function googleCredentialsProblems(path: string): Promise<string[]> {
  const name = "GOOGLE_APPLICATION_CREDENTIALS";
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    return [`${name}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`];
  }
  let key: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return [`${name}: ${path} is not a JSON object`];
    key = parsed as Record<string, unknown>;
  } catch {
    return [`${name}: ${path} is not valid JSON`];
  }
  const missing = (fields: string[]) =>
    fields.filter((field) => typeof key[field] !== "string" || key[field] === "").map((field) => `${name}: ${path} has no "${field}"`);
  switch (key.type) {
    case "service_account": {
      const problems = missing(["client_email", "private_key"]);
      if (typeof key.private_key === "string" && key.private_key !== "") {
        try {
          createPrivateKey(key.private_key);
        } catch {
          problems.push(`${name}: private_key in ${path} is not a valid PEM private key`);
        }
      }
      return problems;
    }
    case "authorized_user":
      return missing(["client_id", "client_secret", "refresh_token"]);
    case undefined:
      return [`${name}: ${path} has no "type" (expected service_account, authorized_user, external_account, ...)`];
    default:
      // Workload identity federation and the like: their checks need the network.
      return [];
  }
}

/** Every credentials problem found without the network; empty when none. */
export async function credentialsProblems(settings: { GOOGLE_APPLICATION_CREDENTIALS?: string; OPENAI_API_KEY?: string }): Promise<string[]> {
  const problems = settings.GOOGLE_APPLICATION_CREDENTIALS ? await googleCredentialsProblems(settings.GOOGLE_APPLICATION_CREDENTIALS) : [];
  if (!settings.OPENAI_API_KEY) problems.push("OPENAI_API_KEY: not set");
  return problems;
}

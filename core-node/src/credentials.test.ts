import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { credentialsProblems, googleCredentialsProblems } from "./credentials.js";

const dir = mkdtempSync(join(tmpdir(), "credentials-test-"));
function keyFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

describe("credentials checks (no network)", () => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();

  it("accepts a service account key that Google's libraries could sign with", async () => {
    const path = keyFile("good.json", JSON.stringify({ type: "service_account", client_email: "core@p.iam.gserviceaccount.com", private_key: pem }));
    expect(await googleCredentialsProblems(path)).toEqual([]);
  });

  it("names the variable and what is wrong: unreadable, not JSON, no type, a broken key", async () => {
    expect(await googleCredentialsProblems(join(dir, "missing.json"))).toEqual([
      `GOOGLE_APPLICATION_CREDENTIALS: cannot read ${join(dir, "missing.json")}: ENOENT`,
    ]);
    const notJson = keyFile("not-json.json", "{not json");
    expect(await googleCredentialsProblems(notJson)).toEqual([`GOOGLE_APPLICATION_CREDENTIALS: ${notJson} is not valid JSON`]);
    const untyped = keyFile("untyped.json", "{}");
    expect(await googleCredentialsProblems(untyped)).toEqual([expect.stringMatching(/has no "type"/)]);
    const badKey = keyFile("bad-key.json", JSON.stringify({ type: "service_account", client_email: "a@b", private_key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }));
    expect(await googleCredentialsProblems(badKey)).toEqual([`GOOGLE_APPLICATION_CREDENTIALS: private_key in ${badKey} is not a valid PEM private key`]);
    const noEmail = keyFile("no-email.json", JSON.stringify({ type: "service_account", private_key: pem }));
    expect(await googleCredentialsProblems(noEmail)).toEqual([`GOOGLE_APPLICATION_CREDENTIALS: ${noEmail} has no "client_email"`]);
  });

  it("reports a missing OpenAI key, and nothing when Google's credentials come from the runtime", async () => {
    expect(await credentialsProblems({})).toEqual(["OPENAI_API_KEY: not set"]);
    expect(await credentialsProblems({ OPENAI_API_KEY: "sk-x" })).toEqual([]);
  });
});

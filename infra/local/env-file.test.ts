import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { SETTING_NAMES } from "../../core-node/src/config.js";
import { envFilePath, loadServicePlan, parseEnvText } from "./env-file.js";
import { ALL_EMULATED, envFileKeys } from "./services.js";

const ENV_EXAMPLE = fileURLToPath(new URL("../../.env.example", import.meta.url));
const scratch = mkdtempSync(path.join(tmpdir(), "voice-env-file-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let files = 0;
function envFile(text: string): string {
  const dir = path.join(scratch, String(++files));
  mkdirSync(dir);
  const file = path.join(dir, ".env");
  writeFileSync(file, text);
  return file;
}

function parsed(text: string): Record<string, string> {
  const result = parseEnvText(text);
  if (!result.ok) throw new Error(result.error);
  return result.env;
}

describe("reading a .env", () => {
  it("reads KEY=value lines as Node does: comments, export, quotes, values over several lines", () => {
    const text = [
      "# a comment",
      "",
      "export LOG_LEVEL=debug",
      "GREETING_TEXT = 'Hello # not a comment' # a comment",
      "FIXED_PHRASES='{",
      '  "goodbye": "bye"',
      "}'",
      "LANGUAGE=en-US",
      "OPENAI_API_KEY=",
    ].join("\n");
    expect(parsed(text)).toEqual({
      LOG_LEVEL: "debug",
      GREETING_TEXT: "Hello # not a comment",
      FIXED_PHRASES: '{\n  "goodbye": "bye"\n}',
      LANGUAGE: "en-US",
      OPENAI_API_KEY: "",
    });
  });

  it("keeps the key JSON in single quotes as written, escapes and all", () => {
    const json = '{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n"}';
    expect(JSON.parse(parsed(`GOOGLE_APPLICATION_CREDENTIALS='${json}'`).GOOGLE_APPLICATION_CREDENTIALS!)).toEqual(JSON.parse(json));
  });

  it("refuses, in one line without the line's text, what Node's parser would silently take otherwise", () => {
    expect(parseEnvText("LOG_LEVEL=info\nsk-secret-pasted-alone\nLANGUAGE=he-IL")).toEqual({ ok: false, error: "line 2: expected KEY=value (or a # comment)" });
    expect(parseEnvText('OPENAI_API_KEY="sk-secret\nLOG_LEVEL=info')).toEqual({ ok: false, error: 'OPENAI_API_KEY: the " that opens its value (line 1) is never closed' });
    // Node ends a double-quoted value at the first " (no escapes): the rest would become keys of their own.
    expect(parseEnvText('FIXED_PHRASES="{\n  \\"goodbye\\": \\"bye\\"\n}"')).toEqual({ ok: false, error: "line 3: expected KEY=value (or a # comment)" });
    expect(parseEnvText("LOG_LEVEL=info\n\nLOG_LEVEL=debug")).toEqual({ ok: false, error: "LOG_LEVEL: set twice (lines 1 and 3)" });
  });

  it("no .env: every service emulated, as npm start always ran", () => {
    expect(loadServicePlan(path.join(scratch, "absent", ".env"))).toEqual(ALL_EMULATED);
  });

  it("ENV_FILE names the file, which must then exist", () => {
    expect(envFilePath({ ENV_FILE: "" }).required).toBe(false);
    const named = envFilePath({ ENV_FILE: path.join(scratch, "named.env") });
    expect(named).toEqual({ file: path.join(scratch, "named.env"), required: true });
    expect(() => loadServicePlan(named.file, named.required)).toThrow(`${named.file}: no such file (ENV_FILE)`);
  });

  it("a key file's relative path is found from the .env's folder", () => {
    const file = envFile("GOOGLE_APPLICATION_CREDENTIALS=./key.json\n");
    writeFileSync(path.join(path.dirname(file), "key.json"), "{}");
    const services = loadServicePlan(file);
    expect(services.real).toEqual({ speech: true, tts: true, chat: false });
    expect(services.coreEnv.GOOGLE_APPLICATION_CREDENTIALS).toBe(path.join(path.dirname(file), "key.json"));
  });

  it("a bad .env is one line naming the file and the key, never a secret", () => {
    const missingKey = envFile("GOOGLE_APPLICATION_CREDENTIALS=./nowhere.json\n");
    expect(() => loadServicePlan(missingKey)).toThrow(`${missingKey}: GOOGLE_APPLICATION_CREDENTIALS: no file at ./nowhere.json`);
    const badLine = envFile("OPENAI_API_KEY=sk-secret-1\nsk-secret-2\n");
    expect(() => loadServicePlan(badLine)).toThrow(new Error(`${badLine}: line 2: expected KEY=value (or a # comment)`));
  });

  it("a core setting the core would refuse is refused before anything starts, naming the key", () => {
    const file = envFile("OPENAI_API_KEY=sk-secret-1\nLOG_LEVEL=loud\n");
    let message = "";
    try {
      loadServicePlan(file);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(new RegExp(`^${file}: invalid configuration: LOG_LEVEL: `));
    expect(message).not.toContain("sk-secret-1");
  });
});

describe(".env.example", () => {
  const text = readFileSync(ENV_EXAMPLE, "utf8");
  const example = parsed(text);

  it("lists exactly the keys npm start and npm run phone:webhook read: a new setting, or a dropped one, fails here", () => {
    expect(Object.keys(example).sort()).toEqual(envFileKeys(SETTING_NAMES).sort());
  });

  it("says in a comment line just above each key what it is", () => {
    const lines = text.split("\n");
    const uncommented = lines.flatMap((line, i) => (/^[A-Z_]+=/.test(line) && !lines[i - 1]?.startsWith("# ") ? [line] : []));
    expect(uncommented).toEqual([]);
  });

  it("copied to .env as it is, changes nothing: every service emulated", () => {
    const file = envFile(text);
    expect(loadServicePlan(file)).toEqual({ ...ALL_EMULATED, source: file });
  });
});

import { describe, expect, it } from "vitest";
import { SETTING_NAMES } from "../../core-node/src/config.js";
import { ALL_EMULATED, envFileKeys, planServices, serviceLines, stackOptionsOf, type PlanInput, type PlanResult, type ServicePlan } from "./services.js";

const SOURCE = "/home/dev/voice/.env";
const KEY_FILE = "/home/dev/voice/keys/google.json";
const FILES = new Set([KEY_FILE, "/home/dev/voice/agent.json"]);
const EMULATORS = { speech: "127.0.0.1:50051", tts: "127.0.0.1:50052", openai: "http://127.0.0.1:8090/v1" };
const ACCOUNT = `AC${"ab".repeat(16)}`;
const SECRETS = { OPENAI_API_KEY: "sk-secret-openai", TWILIO_AUTH_TOKEN: "twilio-secret-token", TWILIO_API_SECRET: "twilio-api-secret" };

function plan(env: Record<string, string>, source: string | null = SOURCE): PlanResult {
  const input: PlanInput = {
    env,
    coreSettings: SETTING_NAMES,
    locateFile: (path) => {
      const absolute = path.startsWith("/") ? path : `/home/dev/voice/${path.replace(/^\.\//, "")}`;
      return FILES.has(absolute) ? absolute : undefined;
    },
    ...(source !== null && { source }),
  };
  return planServices(input);
}

function planned(env: Record<string, string>): ServicePlan {
  const result = plan(env);
  if (!result.ok) throw new Error(result.error);
  return result.plan;
}

function problem(env: Record<string, string>): string {
  const result = plan(env);
  if (result.ok) throw new Error("planned without a problem");
  return result.error;
}

describe("which services npm start uses", () => {
  it("without a .env: every service emulated, nothing added to the core or the edge", () => {
    const result = plan({}, null);
    expect(result).toEqual({ ok: true, plan: ALL_EMULATED });
    expect(stackOptionsOf(ALL_EMULATED)).toEqual({ real: { speech: false, tts: false, chat: false }, coreEnv: {}, edgeVars: {} });
    expect(serviceLines(ALL_EMULATED, EMULATORS)).toEqual([
      "  settings: no .env, so every service is emulated (copy .env.example to .env to use real ones)",
      "  speech  emulator 127.0.0.1:50051",
      "  tts     emulator 127.0.0.1:50052",
      "  chat    emulator http://127.0.0.1:8090/v1",
      '  phone   simulated calls: npm run call (a real number: a tunnel and PUBLIC_URL, see README "Real services and a real phone")',
    ]);
  });

  it("an OpenAI key only: the chat is OpenAI, speech and TTS stay emulated, and the shell cannot redirect the chat", () => {
    const services = planned({ OPENAI_API_KEY: SECRETS.OPENAI_API_KEY });
    expect(services.real).toEqual({ speech: false, tts: false, chat: true });
    expect(services.coreEnv).toEqual({ OPENAI_API_KEY: SECRETS.OPENAI_API_KEY, OPENAI_BASE_URL: "" });
    expect(serviceLines(services, EMULATORS).slice(0, 4)).toEqual([
      `  settings: ${SOURCE}`,
      "  speech  emulator 127.0.0.1:50051",
      "  tts     emulator 127.0.0.1:50052",
      "  chat    OpenAI (real, OPENAI_API_KEY from .env)",
    ]);
  });

  it("an OpenAI-compatible server: the chat goes there, and the banner names its origin, never the key", () => {
    const services = planned({ OPENAI_API_KEY: SECRETS.OPENAI_API_KEY, OPENAI_BASE_URL: "http://127.0.0.1:4010/v1", LLM_MODEL: "llama3" });
    expect(services.coreEnv).toEqual({ OPENAI_API_KEY: SECRETS.OPENAI_API_KEY, OPENAI_BASE_URL: "http://127.0.0.1:4010/v1", LLM_MODEL: "llama3" });
    const lines = serviceLines(services, EMULATORS);
    expect(lines[3]).toBe("  chat    OpenAI-compatible server http://127.0.0.1:4010 (real, OPENAI_API_KEY and OPENAI_BASE_URL from .env)");
    expect(lines.join("\n")).not.toContain(SECRETS.OPENAI_API_KEY);
  });

  it("Google credentials: speech and TTS are Google's, the key's path made absolute from the .env's folder", () => {
    const services = planned({ GOOGLE_APPLICATION_CREDENTIALS: "keys/google.json" });
    expect(services.real).toEqual({ speech: true, tts: true, chat: false });
    expect(services.coreEnv).toEqual({ GOOGLE_APPLICATION_CREDENTIALS: KEY_FILE, SPEECH_ENDPOINT: "", TTS_ENDPOINT: "" });
    expect(serviceLines(services, EMULATORS).slice(1, 4)).toEqual([
      "  speech  Google Speech-to-Text (real, credentials from .env)",
      "  tts     Google Text-to-Speech (real, credentials from .env)",
      "  chat    emulator http://127.0.0.1:8090/v1",
    ]);
  });

  it("Google credentials given as the key JSON itself go to the core as they are", () => {
    const json = '{"type":"service_account","client_email":"a@b.iam.gserviceaccount.com"}';
    expect(planned({ GOOGLE_APPLICATION_CREDENTIALS: json }).coreEnv.GOOGLE_APPLICATION_CREDENTIALS).toBe(json);
  });

  it("LOCAL_EMULATE keeps a service emulated although its credentials are there, and the banner says why", () => {
    const services = planned({ GOOGLE_APPLICATION_CREDENTIALS: KEY_FILE, OPENAI_API_KEY: SECRETS.OPENAI_API_KEY, LOCAL_EMULATE: "speech, chat" });
    expect(services.real).toEqual({ speech: false, tts: true, chat: false });
    expect(services.forced).toEqual(["speech", "chat"]);
    expect(services.coreEnv).toEqual({ GOOGLE_APPLICATION_CREDENTIALS: KEY_FILE, TTS_ENDPOINT: "" });
    const lines = serviceLines(services, EMULATORS);
    expect(lines[1]).toBe("  speech  emulator 127.0.0.1:50051 (LOCAL_EMULATE: the credentials in .env are not used)");
    expect(lines[3]).toBe("  chat    emulator http://127.0.0.1:8090/v1 (LOCAL_EMULATE: the credentials in .env are not used)");
  });

  it("with both Google services emulated the key stays out of the core", () => {
    expect(planned({ GOOGLE_APPLICATION_CREDENTIALS: KEY_FILE, LOCAL_EMULATE: "speech,tts" }).coreEnv).toEqual({});
  });

  it("other core settings pass to the core; the shared ones to the edge too; the numbers to the edge only", () => {
    const services = planned({ LOG_LEVEL: "debug", EOU_HOLD_MAX_MS: "900", GREETING_TEXT: "Hello", LANGUAGE: "en-US", STAFF_NUMBER: "+15550001111" });
    expect(services.coreEnv).toEqual({ LOG_LEVEL: "debug", EOU_HOLD_MAX_MS: "900", GREETING_TEXT: "Hello", LANGUAGE: "en-US" });
    expect(services.edgeVars).toEqual({ GREETING_TEXT: "Hello", LANGUAGE: "en-US", STAFF_NUMBER: "+15550001111" });
    expect(services.real).toEqual(ALL_EMULATED.real);
  });

  it("a prompt of one's own replaces the local agent file; an agent file of one's own is used from its absolute path", () => {
    expect(planned({ SYSTEM_PROMPT: "Be brief." }).coreEnv).toEqual({ SYSTEM_PROMPT: "Be brief.", AGENT_FILE: "" });
    expect(planned({ AGENT_FILE: "./agent.json" }).coreEnv).toEqual({ AGENT_FILE: "/home/dev/voice/agent.json" });
  });

  it("empty values are unset: the keys of .env.example, all empty, change nothing", () => {
    const empty = Object.fromEntries(envFileKeys(SETTING_NAMES).map((key) => [key, ""]));
    expect(planned(empty)).toEqual({ ...ALL_EMULATED, source: SOURCE });
  });

  it("a real number: PUBLIC_URL with the account's SID and auth token reach the edge", () => {
    const services = planned({ PUBLIC_URL: "https://calm-fox.trycloudflare.com/", TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: SECRETS.TWILIO_AUTH_TOKEN });
    expect(services.phone).toEqual({ publicUrl: "https://calm-fox.trycloudflare.com", accountSid: ACCOUNT, authToken: SECRETS.TWILIO_AUTH_TOKEN });
    expect(stackOptionsOf(services).phone).toEqual(services.phone);
    expect(services.coreEnv).toEqual({});
    const lines = serviceLines(services, EMULATORS);
    expect(lines[4]).toBe(
      "  phone   Twilio calls POST https://calm-fox.trycloudflare.com/twilio/voice (PUBLIC_URL and the Twilio account from .env; point the number at it: npm run phone:webhook)",
    );
    expect(lines.join("\n")).not.toContain(SECRETS.TWILIO_AUTH_TOKEN);
  });

  it("Twilio credentials without PUBLIC_URL are for npm run phone:webhook only: the edge keeps the local account", () => {
    const services = planned({ TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: SECRETS.TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER: "+15551234567" });
    expect(services.phone).toBeUndefined();
    expect(services.edgeVars).toEqual({});
    expect(serviceLines(services, EMULATORS)[4]).toContain("simulated calls: npm run call");
  });
});

describe("a bad .env", () => {
  const cases: [string, Record<string, string>, string][] = [
    ["an unknown key (a typo)", { OPENAI_APIKEY: SECRETS.OPENAI_API_KEY }, "OPENAI_APIKEY: not a key npm start reads (.env.example lists them all)"],
    ["a key npm start sets itself", { SPEECH_ENDPOINT: "127.0.0.1:9" }, "SPEECH_ENDPOINT: not read from .env: npm start points the core at the speech emulator, or at Google with GOOGLE_APPLICATION_CREDENTIALS"],
    ["a Cloud Run setting", { K_SERVICE: "voice-core" }, "K_SERVICE: not read from .env: Cloud Run sets it; a local core has none"],
    ["an unknown service to emulate", { LOCAL_EMULATE: "speech,stt" }, 'LOCAL_EMULATE: "stt" is not one of speech, tts, chat'],
    ["a key file that is not there", { GOOGLE_APPLICATION_CREDENTIALS: "keys/missing.json" }, "GOOGLE_APPLICATION_CREDENTIALS: no file at keys/missing.json"],
    ["key JSON that is not JSON", { GOOGLE_APPLICATION_CREDENTIALS: '{"private_key": "-----BEGIN' }, "GOOGLE_APPLICATION_CREDENTIALS: holds text starting with {"],
    ["a base URL that is not a URL", { OPENAI_API_KEY: SECRETS.OPENAI_API_KEY, OPENAI_BASE_URL: "localhost 4010" }, "OPENAI_BASE_URL: expected a URL"],
    ["a base URL without a key", { OPENAI_BASE_URL: "http://127.0.0.1:4010/v1" }, "OPENAI_BASE_URL: set without OPENAI_API_KEY"],
    ["PUBLIC_URL over plain http", { PUBLIC_URL: "http://127.0.0.1:8787", TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: SECRETS.TWILIO_AUTH_TOKEN }, "PUBLIC_URL: expected the tunnel's https:// address"],
    ["PUBLIC_URL with a path", { PUBLIC_URL: "https://x.ngrok.app/twilio/voice", TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: SECRETS.TWILIO_AUTH_TOKEN }, "PUBLIC_URL: expected"],
    ["PUBLIC_URL without the auth token", { PUBLIC_URL: "https://x.ngrok.app", TWILIO_ACCOUNT_SID: ACCOUNT }, "TWILIO_AUTH_TOKEN: needed with PUBLIC_URL"],
    ["PUBLIC_URL without the account", { PUBLIC_URL: "https://x.ngrok.app", TWILIO_AUTH_TOKEN: SECRETS.TWILIO_AUTH_TOKEN }, "TWILIO_ACCOUNT_SID: needed with PUBLIC_URL"],
    ["an account SID of another shape", { PUBLIC_URL: "https://x.ngrok.app", TWILIO_ACCOUNT_SID: "AC123", TWILIO_AUTH_TOKEN: SECRETS.TWILIO_AUTH_TOKEN }, "TWILIO_ACCOUNT_SID: expected AC followed by 32 hex digits"],
  ];
  it.each(cases)("%s: one line naming the key, no secret in it", (_, env, expected) => {
    const error = problem(env);
    expect(error.startsWith(expected)).toBe(true);
    expect(error).not.toContain("\n");
    for (const secret of [...Object.values(SECRETS), "-----BEGIN"]) expect(error).not.toContain(secret);
  });
});

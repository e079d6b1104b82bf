// The webhook command against a loopback stand-in of Twilio's REST API (a real HTTP server that
// checks Basic auth and answers the IncomingPhoneNumbers list and update as Twilio does).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pointVoiceWebhook, webhookSettings, type WebhookSettings } from "./phone-webhook-api.js";

const ACCOUNT = `AC${"1f".repeat(16)}`;
const AUTH_TOKEN = "twilio-auth-token-secret";
const API_KEY = `SK${"2e".repeat(16)}`;
const API_SECRET = "twilio-api-secret";
const NUMBER = "+15551234567";
const NUMBER_SID = `PN${"3d".repeat(16)}`;
const PUBLIC_URL = "https://calm-fox.trycloudflare.com";
const VOICE_URL = `${PUBLIC_URL}/twilio/voice`;
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  form: Record<string, string>;
}

/** Twilio's API as far as the command uses it: one account, one number, Basic auth with either credential. */
class TwilioStandIn {
  seen: SeenRequest[] = [];
  voiceUrl: string | null = "https://demo.twilio.com/welcome/voice/";
  private server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://stand-in");
      const request = { method: req.method ?? "", path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: req.headers.authorization, form: Object.fromEntries(new URLSearchParams(body)) };
      this.seen.push(request);
      const answer = (status: number, json: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
      const valid = [`${ACCOUNT}:${AUTH_TOKEN}`, `${API_KEY}:${API_SECRET}`].map((pair) => `Basic ${Buffer.from(pair).toString("base64")}`);
      if (!valid.includes(request.authorization ?? "")) return answer(401, { code: 20003, message: "Authenticate", status: 401 });
      const numbers = `/2010-04-01/Accounts/${ACCOUNT}/IncomingPhoneNumbers`;
      const instance = { sid: NUMBER_SID, account_sid: ACCOUNT, phone_number: NUMBER, voice_url: this.voiceUrl, voice_method: "POST" };
      if (request.method === "GET" && request.path === `${numbers}.json`) {
        const matches = request.query.PhoneNumber === undefined || request.query.PhoneNumber === NUMBER;
        return answer(200, { incoming_phone_numbers: matches ? [instance] : [], page: 0, page_size: 50 });
      }
      if (request.method === "POST" && request.path === `${numbers}/${NUMBER_SID}.json`) {
        if (request.form.VoiceUrl !== undefined) this.voiceUrl = request.form.VoiceUrl;
        return answer(200, { ...instance, voice_url: this.voiceUrl, voice_method: request.form.VoiceMethod ?? "POST" });
      }
      return answer(404, { code: 20404, message: `The requested resource ${request.path} was not found`, status: 404 });
    });
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const twilio = new TwilioStandIn();
let apiBase: string;
const scratch = mkdtempSync(path.join(tmpdir(), "voice-phone-webhook-"));

beforeAll(async () => {
  apiBase = await twilio.listen();
});
afterAll(async () => {
  await twilio.close();
  rmSync(scratch, { recursive: true, force: true });
});
beforeEach(() => {
  twilio.seen = [];
  twilio.voiceUrl = "https://demo.twilio.com/welcome/voice/";
});

const ENV = { PUBLIC_URL, TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_PHONE_NUMBER: NUMBER };

function settings(env: Record<string, string>): WebhookSettings {
  const result = webhookSettings(env, apiBase);
  if (!result.ok) throw new Error(result.error);
  return result.settings;
}

async function failure(run: Promise<unknown>): Promise<string> {
  const error = await run.then(() => undefined, (e: unknown) => e as Error);
  if (!error) throw new Error("it did not fail");
  return error.message;
}

describe("pointing the number's voice webhook at the edge", () => {
  it("finds the number's SID by its number, then sets VoiceUrl to PUBLIC_URL/twilio/voice with POST", async () => {
    const change = await pointVoiceWebhook(settings(ENV));
    expect(change).toEqual({ phoneNumber: NUMBER, sid: NUMBER_SID, previous: "https://demo.twilio.com/welcome/voice/", voiceUrl: VOICE_URL });
    const basic = `Basic ${Buffer.from(`${ACCOUNT}:${AUTH_TOKEN}`).toString("base64")}`;
    expect(twilio.seen).toEqual([
      { method: "GET", path: `/2010-04-01/Accounts/${ACCOUNT}/IncomingPhoneNumbers.json`, query: { PhoneNumber: NUMBER }, authorization: basic, form: {} },
      { method: "POST", path: `/2010-04-01/Accounts/${ACCOUNT}/IncomingPhoneNumbers/${NUMBER_SID}.json`, query: {}, authorization: basic, form: { VoiceUrl: VOICE_URL, VoiceMethod: "POST" } },
    ]);
    expect(twilio.voiceUrl).toBe(VOICE_URL);
  });

  it("an API key and its secret, when given, are the credentials (the account's URLs stay)", async () => {
    await pointVoiceWebhook(settings({ ...ENV, TWILIO_AUTH_TOKEN: "", TWILIO_API_KEY: API_KEY, TWILIO_API_SECRET: API_SECRET }));
    expect(twilio.seen.map((r) => r.authorization)).toEqual(Array(2).fill(`Basic ${Buffer.from(`${API_KEY}:${API_SECRET}`).toString("base64")}`));
    expect(twilio.voiceUrl).toBe(VOICE_URL);
  });

  it("a number the account does not have: one line naming it, and nothing is changed", async () => {
    const message = await failure(pointVoiceWebhook(settings({ ...ENV, TWILIO_PHONE_NUMBER: "+15550000000" })));
    expect(message).toBe("TWILIO_PHONE_NUMBER: +15550000000 is not a number of the Twilio account TWILIO_ACCOUNT_SID names");
    expect(twilio.seen.map((r) => r.method)).toEqual(["GET"]);
    expect(twilio.voiceUrl).toBe("https://demo.twilio.com/welcome/voice/");
  });

  it("credentials Twilio refuses (401): one line naming the keys to check, never the secret", async () => {
    const message = await failure(pointVoiceWebhook(settings({ ...ENV, TWILIO_AUTH_TOKEN: "wrong-secret-token" })));
    expect(message).toBe("Twilio refused the credentials (HTTP 401) for the number lookup: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN");
    expect(twilio.voiceUrl).toBe("https://demo.twilio.com/welcome/voice/");
  });

  it("an API that cannot be reached: one line saying where", async () => {
    const closed = new TwilioStandIn();
    const base = await closed.listen();
    await closed.close();
    const message = await failure(pointVoiceWebhook({ ...settings(ENV), apiBase: base }));
    expect(message).toBe(`cannot reach Twilio's API at ${base} for the number lookup: ECONNREFUSED`);
  });

  it("settings that cannot work are refused before any request, naming the key", () => {
    const problems = [
      webhookSettings({ ...ENV, PUBLIC_URL: "" }, apiBase),
      webhookSettings({ ...ENV, PUBLIC_URL: "http://127.0.0.1:8787" }, apiBase),
      webhookSettings({ ...ENV, TWILIO_PHONE_NUMBER: "055-1234567" }, apiBase),
      webhookSettings({ ...ENV, TWILIO_AUTH_TOKEN: "" }, apiBase),
      webhookSettings({ ...ENV, TWILIO_API_SECRET: API_SECRET }, apiBase),
      webhookSettings(ENV, "https://api.example.com"),
    ].map((result) => (result.ok ? "ok" : result.error.split(":")[0]));
    expect(problems).toEqual(["PUBLIC_URL", "PUBLIC_URL", "TWILIO_PHONE_NUMBER", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_BASE"]);
    expect(webhookSettings(ENV)).toMatchObject({ ok: true, settings: { apiBase: "https://api.twilio.com", voiceUrl: VOICE_URL } });
  });
});

describe("npm run phone:webhook", () => {
  /** Runs the command with the .env `text` (ENV_FILE) against the stand-in; its exit code and output. */
  function run(text: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const file = path.join(scratch, `${twilio.seen.length}-${Math.random().toString(36).slice(2)}.env`);
    writeFileSync(file, text);
    const child = spawn(process.execPath, ["--import", "tsx", "infra/twilio/phone-webhook.ts"], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, ENV_FILE: file, TWILIO_API_BASE: apiBase },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  }

  const envText = (env: Record<string, string>) => Object.entries(env).map(([key, value]) => `${key}=${value}`).join("\n");

  it("reads the .env, points the number, and says so in one line", async () => {
    const result = await run(envText(ENV));
    expect(result).toEqual({
      code: 0,
      stdout: `${NUMBER} (${NUMBER_SID}): calls now go to POST ${VOICE_URL} (before: https://demo.twilio.com/welcome/voice/)\n`,
      stderr: "",
    });
  });

  it("exits 1 with one line on stderr when Twilio refuses, without the token", async () => {
    const result = await run(envText({ ...ENV, TWILIO_AUTH_TOKEN: "wrong-secret-token" }));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe("phone:webhook failed: Twilio refused the credentials (HTTP 401) for the number lookup: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN\n");
  });
});

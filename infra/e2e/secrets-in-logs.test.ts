// No secret in any log line: one real call through the whole stack plus the refused requests an
// attacker would try (a forged core token, a bad Twilio signature, a wrong deploy token), with the
// core given its Google key as inline service-account JSON (a real private key, made here). Every
// line the core and the edge write is scanned for every secret and every credential that was sent.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { PHRASE_PATH, signCoreToken, twilioSignature } from "@voice/protocol";
import { LOCAL_SECRETS, startStack, type Stack } from "../local/stack.js";
import { runCall } from "../sim/call.js";
import type { CallReport } from "../sim/report.js";
import { newSid } from "../sim/twilio-client.js";

/** A Google service-account key file as Google issues it, with a private key made for this run. */
function serviceAccountKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  return {
    type: "service_account",
    project_id: "voice-secrets-test",
    private_key_id: randomBytes(20).toString("hex"),
    private_key: privateKey,
    client_email: "voice-core@voice-secrets-test.iam.gserviceaccount.com",
    client_id: "100000000000000000001",
    auth_uri: "http://127.0.0.1:9/auth",
    // Loopback (the discard port): were a client ever to ask for a token, it would not leave the machine.
    token_uri: "http://127.0.0.1:9/token",
  };
}

/** A line with a one-sentence answer, said twice: two turns in a short call. */
const LINE = "תודה רבה על העזרה שלך";

const key = serviceAccountKey();
const credentialsJson = JSON.stringify(key);
const openAiKey = `sk-secrets-test-${randomBytes(24).toString("hex")}`;
/** What the refused requests carry, each distinctive. */
const forged = {
  coreToken: `CA${randomBytes(16).toString("hex")}.${Date.now() + 60_000}.${randomBytes(32).toString("hex")}`,
  twilioSignature: randomBytes(20).toString("base64"),
  deployToken: `deploy-${randomBytes(16).toString("hex")}`,
  phraseToken: `phrase-${randomBytes(16).toString("hex")}`,
};

let stack: Stack;
let report: CallReport;
const lines: string[] = [];
let credentialsFile: { path: string; mode: number; dirMode: number; content: string } | undefined;

/** Resolves with the HTTP status of a refused WebSocket upgrade (or "open" if it was accepted). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number | "open"> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once("open", () => {
      resolve("open");
      socket.close();
    });
    socket.once("error", (error) => reject(error));
  });
}

beforeAll(async () => {
  stack = await startStack({
    emulators: { script: [LINE], speech: { log: () => {} }, tts: { log: () => {} }, openai: { log: () => {} } },
    coreEnv: { GOOGLE_APPLICATION_CREDENTIALS: credentialsJson, OPENAI_API_KEY: openAiKey },
    onCoreLine: (line) => lines.push(line.text),
    onEdgeLine: (line) => lines.push(line.text),
  });

  // The temp file the inline JSON became, looked at while the core runs (APP_START names it).
  const appStart = stack.core.lines.find((line) => line.json?.message === "APP_START");
  const path = appStart?.json?.google_credentials_path;
  if (typeof path === "string") {
    credentialsFile = { path, mode: statSync(path).mode & 0o777, dirMode: statSync(dirname(path)).mode & 0o777, content: readFileSync(path, "utf8") };
  }

  const callSid = newSid("CA");
  report = await runCall({ url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script: { language: "he-IL", voice: "he", lines: [LINE, LINE] }, callSid, timeoutMs: 20_000 });
  // The core writes the CALL line once the call has closed: the last line of the call.
  await new Promise<void>((resolve) => {
    const ended = () => stack.core.lines.some((l) => l.json?.message === "CALL" && l.json.call_id === callSid);
    if (ended()) return resolve();
    stack.core.onLine(() => ended() && resolve());
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

describe("secrets in logs", () => {
  it("refuses a forged core token, a bad Twilio signature and wrong deploy and phrase tokens", async () => {
    const coreWs = `${stack.core.url.replace(/^http/, "ws")}/call`;
    const mediaUrl = `${stack.edge.url.replace(/^http/, "ws")}/twilio/media`;
    expect(await upgradeStatus(coreWs, { Authorization: `Bearer ${forged.coreToken}` })).toBe(401);
    // A token signed with another secret: the right shape, the wrong key.
    const otherSecret = await signCoreToken("not-the-core-shared-secret", "call", "CA0123", Date.now());
    expect(await upgradeStatus(coreWs, { Authorization: `Bearer ${otherSecret}` })).toBe(401);
    expect(await upgradeStatus(mediaUrl, { "x-twilio-signature": forged.twilioSignature })).toBe(403);
    const warmup = await fetch(`${stack.edge.url}/health/warmup`, { headers: { Authorization: `Bearer ${forged.deployToken}` } });
    expect(warmup.status).toBe(401);
    const phrase = await fetch(`${stack.core.url}${PHRASE_PATH}?text=${encodeURIComponent("שלום")}`, { headers: { Authorization: `Bearer ${forged.phraseToken}` } });
    expect(phrase.status).toBe(401);
    const webhook = await fetch(`${stack.edge.url}/twilio/voice`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": forged.twilioSignature },
      body: new URLSearchParams({ CallSid: newSid("CA"), AccountSid: newSid("AC") }).toString(),
    });
    expect(webhook.status).toBe(403);
    // The refusals were logged (so their lines are among those scanned below), with a reason.
    await expect.poll(() => stack.core.lines.filter((l) => l.json?.message === "call refused").length).toBe(2);
    await expect.poll(() => lines.filter((l) => l.includes("media stream rejected")).length).toBe(1);
    await expect.poll(() => lines.filter((l) => l.includes("voice webhook rejected")).length).toBe(1);
  });

  it("served the call with the inline credentials, from a private temp file", () => {
    expect(report.errors).toEqual([]);
    expect(report.turns.map((turn) => turn.agent_audio_ms > 500)).toEqual([true, true]);
    expect(credentialsFile, "APP_START names the credentials file").toBeDefined();
    expect(credentialsFile!.content).toBe(credentialsJson);
    expect(credentialsFile!.mode.toString(8)).toBe("600");
    expect(credentialsFile!.dirMode.toString(8)).toBe("700");
    // The core took the key for a usable one: no credentials problem in its warmup.
    const appStart = stack.core.lines.find((line) => line.json?.message === "APP_START")!;
    expect(JSON.stringify(appStart.json?.warmup)).not.toContain("credentials_warmup_error");
  });

  it("writes no secret, token or credential in any core or edge line", async () => {
    const streamUrl = `${stack.edge.url.replace(/^http/, "ws")}/twilio/media`;
    const secrets: Record<string, string> = {
      CORE_SHARED_SECRET: LOCAL_SECRETS.CORE_SHARED_SECRET,
      TWILIO_AUTH_TOKEN: LOCAL_SECRETS.TWILIO_AUTH_TOKEN,
      DEPLOY_TOKEN: LOCAL_SECRETS.DEPLOY_TOKEN,
      STREAM_TOKEN_SECRET: LOCAL_SECRETS.STREAM_TOKEN_SECRET,
      OPENAI_API_KEY: openAiKey,
      "the credentials JSON": credentialsJson,
      private_key_id: key.private_key_id,
      "the forged core token": forged.coreToken,
      "the forged core token's MAC": forged.coreToken.split(".")[2]!,
      "the bad Twilio signature": forged.twilioSignature,
      "the wrong deploy token": forged.deployToken,
      "the wrong phrase token": forged.phraseToken,
      // Signed over the stream URL alone: valid for any call, forever. It must never be written down.
      "the media stream's signature": await twilioSignature(LOCAL_SECRETS.TWILIO_AUTH_TOKEN, streamUrl, {}),
    };
    // Any 40 characters in a row of the private key's base64 body.
    const body = key.private_key.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
    const keyRuns = Array.from({ length: body.length - 39 }, (_, i) => body.slice(i, i + 40));

    // The scan covers the whole call, from both processes.
    for (const message of ["APP_START", "CALL_START", "TURN", "CALL", "call refused", "voice webhook", "call started", "call ended", "warmup"]) {
      expect(lines.some((line) => line.includes(`"message":"${message}"`)), message).toBe(true);
    }
    const found: string[] = [];
    for (const line of lines) {
      for (const [name, value] of Object.entries(secrets)) if (line.includes(value)) found.push(`${name} in: ${line.slice(0, 200)}`);
      if (keyRuns.some((run) => line.includes(run))) found.push(`the private key in: ${line.slice(0, 200)}`);
      // A core token of any call (the edge signs one per call): "<callSid>.<expiry ms>.<64 hex>".
      if (/[A-Za-z0-9]+\.\d{13}\.[0-9a-f]{64}/.test(line)) found.push(`a core token in: ${line.slice(0, 200)}`);
      if (/Bearer\s+(?!\[redacted\])\S/.test(line)) found.push(`an Authorization value in: ${line.slice(0, 200)}`);
    }
    expect(found).toEqual([]);
  });
});

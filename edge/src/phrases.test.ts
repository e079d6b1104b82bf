import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toBase64 } from "@voice/protocol/crypto";
import { phraseKey } from "@voice/protocol/phrase";
import { loadPhrase, phraseFrames, phraseKeyFor } from "./phrases.js";

describe("phrase keys", () => {
  it("are the shared content-addressed key of each phrase's text, language and voice", async () => {
    const spec = { language: env.LANGUAGE, voice: env.TTS_VOICE, encoding: "MULAW", sampleRateHertz: 8000 } as const;
    expect(await phraseKeyFor(env, "greeting")).toBe(await phraseKey({ ...spec, text: env.GREETING_TEXT }));
    expect(await phraseKeyFor(env, "hold")).toBe(await phraseKey({ ...spec, text: env.HOLD_TEXT }));
  });

  it("change when the text or the voice changes", async () => {
    const greeting = await phraseKeyFor(env, "greeting");
    expect(await phraseKeyFor({ ...env, GREETING_TEXT: `${env.GREETING_TEXT}!` }, "greeting")).not.toBe(greeting);
    expect(await phraseKeyFor({ ...env, TTS_VOICE: "he-IL-Wavenet-B" }, "greeting")).not.toBe(greeting);
    expect(await phraseKeyFor(env, "greeting")).toBe(greeting);
  });
});

describe("loadPhrase", () => {
  it("finds nothing until KV holds the audio, then cuts it into 20 ms frame payloads", async () => {
    const holdEnv = { ...env, HOLD_TEXT: "phrases.test hold" };
    expect((await loadPhrase(holdEnv, "hold")).payloads).toBeNull();
    const audio = Uint8Array.from({ length: 200 }, (_, i) => i);
    await env.GREETINGS.put(await phraseKeyFor(holdEnv, "hold"), audio);
    const padded = new Uint8Array(160).fill(0xff);
    padded.set(audio.subarray(160));
    expect((await loadPhrase(holdEnv, "hold")).payloads).toEqual([toBase64(audio.subarray(0, 160)), toBase64(padded)]);
  });

  it("wraps payloads as Twilio media frames, with the mark last when one is named", () => {
    expect(phraseFrames(["AAAA"], "MZ1", "greeting")).toEqual([
      '{"event":"media","streamSid":"MZ1","media":{"payload":"AAAA"}}',
      '{"event":"mark","streamSid":"MZ1","mark":{"name":"greeting"}}',
    ]);
    expect(phraseFrames(["AAAA"], "MZ1")).toHaveLength(1);
  });
});

import * as grpc from "@grpc/grpc-js";
import { SpeechClient } from "@google-cloud/speech";
import { TextToSpeechClient } from "@google-cloud/text-to-speech";
import { parseWav } from "@voice/protocol";
import OpenAI from "openai";
import { expect, it } from "vitest";
import defaultScript from "../scripts/default.he.json" with { type: "json" };
import { startEmulators } from "./index.js";

const local = (endpoint: string) => {
  const [host, port] = endpoint.split(":");
  return { apiEndpoint: host!, port: Number(port), sslCreds: grpc.credentials.createInsecure(), universeDomain: "googleapis.com" };
};

it("starts all three emulators; the agent's speech round-trips through STT to the script", async () => {
  const emulators = await startEmulators({ openai: { firstTokenMs: 0, tokenIntervalMs: 0 } });
  const tts = new TextToSpeechClient(local(emulators.env.TTS_ENDPOINT));
  const speech = new SpeechClient(local(emulators.env.SPEECH_ENDPOINT));
  const llm = new OpenAI({ baseURL: emulators.env.OPENAI_BASE_URL, apiKey: emulators.env.OPENAI_API_KEY, maxRetries: 0 });
  try {
    const [spoken] = await tts.synthesizeSpeech({
      input: { text: defaultScript.lines[1] },
      voice: { languageCode: "he-IL", name: "he-IL-Standard-B" },
      audioConfig: { audioEncoding: "MULAW", sampleRateHertz: 8000 },
    });
    const [recognized] = await speech.recognize({
      config: { encoding: "MULAW", sampleRateHertz: 8000, languageCode: "he-IL" },
      audio: { content: parseWav(spoken.audioContent as Uint8Array).data },
    });
    expect(recognized.results?.map((r) => r.alternatives?.[0]?.transcript)).toEqual([defaultScript.lines[0]]);

    const answer = await llm.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: defaultScript.lines[1]! }] });
    expect(answer.choices[0]!.message.content).toMatch(/תור/);
  } finally {
    await Promise.all([tts.close(), speech.close()]);
    await emulators.close();
  }
});

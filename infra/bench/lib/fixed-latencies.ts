// The emulator latencies the latency and overhead suites fix, so the latency a turn should have is
// known and what the caller waits beyond it is our own code's.

/**
 * The fixed latencies: STT final 300 ms after speech end, LLM first token 400 ms, TTS 400 ms. (The TTS
 * emulator's eSpeak needs up to ~250 ms for a sentence here, and more with three calls at once, so 400 is what it holds;
 * the latency suite reports how often it could not: tts_latency_overruns.)
 */
export const FIXED = { sttFinalAfterSpeechEndMs: 300, llmFirstTokenMs: 400, ttsMs: 400 } as const;

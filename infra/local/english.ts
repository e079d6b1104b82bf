// The core's settings for an English (en-US) line: its language, an English voice, and the words it
// says on its own in English. The defaults are Hebrew; an English voice would spell Hebrew phrases
// out letter by letter (and warmup refuses audio that long). Used where the real-speech corpus, which
// is English, is played to a core.
export const ENGLISH_CORE_ENV: Readonly<Record<string, string>> = {
  LANGUAGE: "en-US",
  TTS_VOICE: "en-US-Wavenet-C",
  GREETING_TEXT: "Hello, you've reached the clinic. How can I help?",
  CALL_LIMIT_TEXT: "This call is ending now. Thank you for calling, goodbye.",
  FIXED_PHRASES: JSON.stringify({
    stt_trouble: "Sorry, I'm having trouble hearing. One moment.",
    answer_error: "Sorry, something went wrong on my side. Could you say that again?",
    stt_failed: "Sorry, I couldn't hear that. Could you say it again?",
    tool_wait: "One moment, I'm checking the calendar.",
    tool_wait_more: "Just a moment more, still checking.",
    tool_failed: "Sorry, I couldn't check that right now.",
    transfer_announce: "I'm putting you through to the clinic's staff, please stay on the line.",
    idle_reprompt: "Are you still there?",
    goodbye: "Thank you for calling, goodbye.",
  }),
};

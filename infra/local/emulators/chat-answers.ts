// The chat emulator's "model": a small rule table keyed on words of the caller's last message, so
// a scripted call gets sensible, different answers. Hebrew when the caller's message has Hebrew
// letters, English when it has Latin ones; a message with neither (keypad digits) keeps the language
// of the caller's earlier messages, Hebrew by default.

interface AnswerRule {
  /** Matched as lower-case substrings, so Hebrew prefixes (ה, ל, ב, ו) still match. */
  keywords: string[];
  he: string;
  en: string;
}

// First match wins: a thank-you that also asks a question gets the question answered.
const RULES: AnswerRule[] = [
  {
    // A long answer: three sentences, to show the first one spoken before the rest is generated. The
    // number, the time and the abbreviation inside sentences are where a naive splitter would cut.
    keywords: ["ספר לי על", "ספרי לי על", "tell me about"],
    he: "המרפאה שלנו פועלת כבר 3.5 שנים ברחוב הרצל בתל־אביב, ובראשה עומדת ד״ר כהן. אנחנו פותחים כל בוקר ב־8:30, ויש חניה חינם מול הבניין. רוצה שאקבע לך תור?",
    en: "Our clinic has been open for 3.5 years on Herzl Street in Tel Aviv, and Dr. Cohen heads it. We open every morning at 8:30, and parking across the street is free. Shall I book you an appointment?",
  },
  {
    keywords: ["שעות", "פתוחים", "hours", "open"],
    he: "אנחנו פתוחים בימים ראשון עד חמישי, משמונה בבוקר עד שש בערב. ביום שישי אנחנו פתוחים עד אחת בצהריים.",
    en: "We are open Sunday to Thursday, from eight in the morning to six in the evening. On Friday we close at one in the afternoon.",
  },
  {
    keywords: ["תור", "לקבוע", "appointment", "book"],
    he: "בשמחה. יש תור פנוי מחר בתשע וחצי בבוקר. האם השעה הזאת מתאימה לך?",
    en: "Gladly. There is a free slot tomorrow at nine thirty in the morning. Does that time suit you?",
  },
  {
    keywords: ["תודה", "להתראות", "ביי", "thank", "bye"],
    he: "תודה שהתקשרת, יום נעים ולהתראות!",
    en: "Thank you for calling, have a nice day and goodbye!",
  },
];

const NOT_UNDERSTOOD = {
  he: "סליחה, לא הבנתי. אפשר לחזור על זה במילים אחרות?",
  en: "Sorry, I didn't understand. Could you say that in other words?",
};

/** How the agent passes keypad digits to the model: "[keypad] 1234". */
const KEYPAD_TAG = "[keypad]";
const keypadAnswer = {
  he: (digits: string) => `קיבלתי את המספר ${digits}, תודה.`,
  en: (digits: string) => `I got the number ${digits}, thank you.`,
};

/** A question about the conversation itself: answered from the history, so a test can see what the model was given. */
const RECALL_KEYWORDS = ["מה שאלתי", "what did i ask"];
const recallAnswer = {
  he: (earlier: string | undefined) => (earlier ? `שאלת קודם: ${earlier}` : "עוד לא שאלת אותי דבר."),
  en: (earlier: string | undefined) => (earlier ? `Earlier you asked: ${earlier}` : "You have not asked me anything yet."),
};

export type Language = "he" | "en";

/** A user message, lower-cased, split into whether it came from the keypad and the rest. */
function parseUserText(text: string): { keypad: boolean; words: string } {
  const lower = text.trim().toLowerCase();
  const keypad = lower.startsWith(KEYPAD_TAG);
  return { keypad, words: keypad ? lower.slice(KEYPAD_TAG.length) : lower };
}

/** Hebrew for Hebrew letters, English for Latin ones, undefined for neither (digits, keys). */
export function languageOf(words: string): Language | undefined {
  if (/[\u05d0-\u05ea]/.test(words)) return "he";
  if (/[a-z]/i.test(words)) return "en";
  return undefined;
}

/** The answer to the caller's last message; `earlierUserTexts` (oldest first) decide the language of one without words, and answer a question about them. */
export function answerFor(lastUserText: string, earlierUserTexts: string[] = []): string {
  const { keypad, words } = parseUserText(lastUserText);
  const earlier = earlierUserTexts.map((text) => languageOf(parseUserText(text).words));
  const language = languageOf(words) ?? earlier.findLast((found) => found !== undefined) ?? "he";
  if (keypad) {
    const digits = words.match(/[0-9*#]/g)?.join("");
    return digits ? keypadAnswer[language](digits) : NOT_UNDERSTOOD[language];
  }
  if (RECALL_KEYWORDS.some((keyword) => words.includes(keyword))) {
    // The first thing the caller said: it survives any later turn, and a handed-over history.
    return recallAnswer[language](earlierUserTexts.find((text) => !parseUserText(text).keypad)?.trim());
  }
  const rule = RULES.find((candidate) => candidate.keywords.some((keyword) => words.includes(keyword)));
  return (rule ?? NOT_UNDERSTOOD)[language];
}

/** Word-ish stream tokens: each word with its trailing punctuation and spaces (an answer has no leading space). */
export function streamTokens(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

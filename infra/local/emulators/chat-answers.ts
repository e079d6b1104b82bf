// The chat emulator's "model": a small rule table keyed on words of the caller's last message, so
// a scripted call gets sensible, different answers. Hebrew by default; English when the caller's
// message has no Hebrew letters.

interface AnswerRule {
  /** Matched as lower-case substrings, so Hebrew prefixes (ה, ל, ב, ו) still match. */
  keywords: string[];
  he: string;
  en: string;
}

// First match wins: a thank-you that also asks a question gets the question answered.
const RULES: AnswerRule[] = [
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

const HEBREW_LETTER = /[\u05d0-\u05ea]/;

/** The answer to the caller's last message. */
export function answerFor(lastUserText: string): string {
  const text = lastUserText.toLowerCase();
  const language = HEBREW_LETTER.test(text) || !text.trim() ? "he" : "en";
  const rule = RULES.find((candidate) => candidate.keywords.some((keyword) => text.includes(keyword)));
  return (rule ?? NOT_UNDERSTOOD)[language];
}

/** Word-ish stream tokens: each word with its trailing punctuation and spaces (an answer has no leading space). */
export function streamTokens(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

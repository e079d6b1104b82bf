// A call's spending limits, against a caller (or a bug) running up the bill: LLM requests
// (LLM_MAX_REQUESTS_PER_CALL; speculative requests and retries count, each is paid for) and
// characters sent for synthesis (TTS_MAX_CHARS_PER_CALL; cache misses only, a cached phrase costs
// nothing). A request that would go past a limit is not made: it fails with BudgetSpentError, and the
// first such refusal is reported once so the session can wrap the call up.
import type { ChatModel } from "../llm/types.js";
import type { Synthesis } from "../tts/cache.js";

export type BudgetName = "LLM_MAX_REQUESTS_PER_CALL" | "TTS_MAX_CHARS_PER_CALL";

export class BudgetSpentError extends Error {
  override name = "BudgetSpentError";
  constructor(readonly budget: BudgetName) {
    super(`${budget} spent`);
  }
}

export interface BudgetLimits {
  llmRequests: number;
  ttsChars: number;
}

export class CallBudget {
  llmRequests = 0;
  ttsChars = 0;
  private spent: BudgetName | undefined;

  constructor(
    private readonly limits: BudgetLimits,
    /** The first refusal: called once, from inside the refused request (defer work that may re-enter it). */
    private readonly onSpent: (budget: BudgetName, limit: number) => void,
  ) {}

  /** `llm`, counting this call's requests; the one past the limit fails without being sent. */
  chat(llm: ChatModel): ChatModel {
    return {
      stream: (messages, options) => {
        if (this.llmRequests >= this.limits.llmRequests) return failing(this.refuse("LLM_MAX_REQUESTS_PER_CALL"));
        this.llmRequests++;
        return llm.stream(messages, options);
      },
      warmup: () => llm.warmup(),
    };
  }

  /** `tts`, counting the characters of texts not in the cache (`cached`); one past the limit fails without being sent. */
  synthesis(tts: Synthesis, cached: (text: string) => boolean): Synthesis {
    return {
      synthesize: (text, signal) => {
        if (!cached(text)) {
          const chars = text.length;
          if (this.ttsChars + chars > this.limits.ttsChars) return Promise.reject(this.refuse("TTS_MAX_CHARS_PER_CALL"));
          this.ttsChars += chars;
        }
        return tts.synthesize(text, signal);
      },
    };
  }

  private refuse(budget: BudgetName): BudgetSpentError {
    if (this.spent === undefined) {
      this.spent = budget;
      this.onSpent(budget, budget === "LLM_MAX_REQUESTS_PER_CALL" ? this.limits.llmRequests : this.limits.ttsChars);
    }
    return new BudgetSpentError(budget);
  }
}

/** A stream that fails on its first read, as a refused HTTP request would. */
function failing(error: Error): AsyncIterable<never> {
  return {
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }),
  };
}

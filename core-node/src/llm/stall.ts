// A stalled LLM stream is an error like any other: no first token within the deadline, or no next
// token for as long, ends the request (the connection may be open and silent forever otherwise).

export class LlmStallError extends Error {
  override name = "LlmStallError";
}

/**
 * What `open(signal)` streams, failing with LlmStallError when nothing comes for `stallMs`
 * (waiting for the first token included). Aborting `signal`, or a stall, aborts the request.
 */
export async function* withStallDeadline<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  signal: AbortSignal,
  stallMs: number,
): AsyncGenerator<T> {
  const request = new AbortController();
  const abort = () => request.abort(signal.reason);
  signal.addEventListener("abort", abort, { once: true });
  const iterator = open(request.signal)[Symbol.asyncIterator]();
  let completed = false;
  try {
    for (;;) {
      const next = iterator.next();
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new LlmStallError(`no token for ${stallMs} ms`)), stallMs);
      });
      let step: IteratorResult<T>;
      try {
        step = await Promise.race([next, stalled]);
      } catch (error) {
        if (error instanceof LlmStallError) {
          next.catch(() => undefined); // it rejects once the request is aborted below
          request.abort(error);
        }
        throw error;
      } finally {
        clearTimeout(timer);
      }
      if (step.done) {
        completed = true;
        return;
      }
      yield step.value;
    }
  } finally {
    signal.removeEventListener("abort", abort);
    // The consumer left early (or it failed): stop the request. Not after a normal end, when the
    // response may still be draining and an abort would read as a cancellation.
    if (!completed) request.abort();
  }
}

// The tools behind each answer, for the simulator's report. A caller hears audio, not tool calls, so
// the facts come from what the core logged: the local stack serves each call's TURN lines next to
// the caller-script registry (wire format in infra/caller-scripts/registration.ts). A core TURN line
// belongs to the caller's line whose audio it was about: both sides mark the speech (or keys) on the
// same caller audio clock.
import { CoreTurns, coreTurnsUrl } from "../caller-scripts/registration.js";
import type { CallSummary, ToolUse } from "./report.js";

/** The core's speech end may lag the line's last frame by its VAD's view of a trailing word. */
const SPEECH_END_SLACK_MS = 400;

/** How long the core may take to write the call's last lines after the caller hangs up. */
export const CORE_TURNS_WAIT_MS = 5000;

/** The core's TURN lines of the call, from the registry at `registryUrl`; throws a one-line reason. */
export async function fetchCoreTurns(registryUrl: string, callSid: string, waitMs = CORE_TURNS_WAIT_MS): Promise<CoreTurns> {
  const url = coreTurnsUrl(registryUrl, callSid, waitMs);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(waitMs + 5000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw new Error(`cannot read the core's turns at ${url}: ${cause?.code ?? (error as Error).message}`);
  }
  if (!response.ok) throw new Error(`the core's turns at ${url}: ${response.status} ${(await response.text().catch(() => "")).slice(0, 200)}`);
  const parsed = CoreTurns.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success) throw new Error(`the core's turns at ${url}: not a { ended, turns } answer`);
  return parsed.data;
}

/**
 * The summary with each caller line's `tools`: those of the core turns whose speech ended within the
 * line (a line the core took no turn for, such as noise, called none). Each core turn counts once.
 */
export function withCoreTools(summary: CallSummary, core: CoreTurns): CallSummary {
  const unclaimed = [...core.turns];
  const turns = summary.turns.map((turn) => {
    const { speech_start_audio_ms: start, speech_end_audio_ms: end } = turn;
    const tools: ToolUse[] = [];
    if (start !== null && end !== null) {
      for (let i = 0; i < unclaimed.length; ) {
        const coreEnd = unclaimed[i]!.speech_end_audio_ms;
        if (coreEnd >= start && coreEnd <= end + SPEECH_END_SLACK_MS) tools.push(...(unclaimed.splice(i, 1)[0]!.tools ?? []));
        else i++;
      }
    }
    return { ...turn, tools };
  });
  return { ...summary, turns };
}

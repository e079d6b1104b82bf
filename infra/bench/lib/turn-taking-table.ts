// The turn-taking bench's figures as a table to read: one row per figure, one column per variant.
import type { Distribution } from "../../stats/distribution.js";
import type { CutoffRate, TurnTakingSummary } from "./turn-taking-score.js";

const percent = (rate: number | null) => (rate === null ? "-" : `${(rate * 100).toFixed(1)}%`);
const cutoffs = (figure: CutoffRate | undefined) =>
  figure ? `${figure.cut}/${figure.pauses} ${percent(figure.rate)}${figure.recovered > 0 ? ` (${figure.recovered} recovered)` : ""}` : "-";
const spread = (figure: Distribution | null) => (figure ? `${figure.median} / ${figure.p90} ms (n ${figure.n})` : "-");

export function turnTakingTable(summaries: Record<string, TurnTakingSummary>): string {
  const columns = Object.entries(summaries);
  const keysOf = (pick: (summary: TurnTakingSummary) => Record<string, unknown>) => [...new Set(columns.flatMap(([, summary]) => Object.keys(pick(summary))))];
  const rows: [string, (summary: TurnTakingSummary) => string][] = [
    ["false cut-offs (continue pauses)", (s) => cutoffs(s.false_cutoffs)],
    ["items with a cut-off", (s) => `${s.items_cut.items}/${s.items_cut.of} ${percent(s.items_cut.rate)}`],
    ...keysOf((s) => s.by_gap_ms)
      .sort((a, b) => Number(a) - Number(b))
      .map((gap): [string, (s: TurnTakingSummary) => string] => [`  pause ${gap} ms`, (s) => cutoffs(s.by_gap_ms[gap])]),
    ...keysOf((s) => s.by_cue).map((cue): [string, (s: TurnTakingSummary) => string] => [`  cue ${cue}`, (s) => cutoffs(s.by_cue[cue])]),
    ...keysOf((s) => s.target_pauses_by_cue).map((cue): [string, (s: TurnTakingSummary) => string] => [
      `  300-1200 ms, cue ${cue}`,
      (s) => cutoffs(s.target_pauses_by_cue[cue]),
    ]),
    ...keysOf((s) => s.by_condition).map((condition): [string, (s: TurnTakingSummary) => string] => [`  ${condition}`, (s) => cutoffs(s.by_condition[condition])]),
    ["recovered (CALL lines)", (s) => String(s.recovered_by_call_lines ?? "-")],
    ["agent over caller, median / p90", (s) => spread(s.agent_over_caller_ms)],
    ["EOU_MS at true ends, median / p90", (s) => spread(s.end_eou_ms)],
    ...keysOf((s) => s.by_condition).map((condition): [string, (s: TurnTakingSummary) => string] => [
      `  ${condition}`,
      (s) => spread(s.by_condition[condition]?.end_eou_ms ?? null),
    ]),
    ["  held ends", (s) => spread(s.end_eou_ms_held)],
    ["  why held", (s) => Object.entries(s.end_holds).map(([reason, n]) => `${reason} ${n}`).join(", ")],
    ["  no turn at the end", (s) => String(s.end_missed)],
    ["speech end -> answer heard (no cut-off)", (s) => spread(s.answer_after_speech_end_ms)],
    ["items answered in one turn", (s) => percent(s.one_turn_rate)],
    ["last transcript = whole text", (s) => percent(s.final_transcript_rate)],
    ["VAD speech end - pause start", (s) => spread(s.speech_end_offset_ms)],
    ["turns ending in no labelled pause", (s) => String(s.off_boundary_turns)],
  ];
  const table = [["", ...columns.map(([name]) => name)], ...rows.map(([label, cell]) => [label, ...columns.map(([, summary]) => cell(summary))])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

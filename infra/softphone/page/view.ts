// The live call view's DOM: the conversation turn by turn (call-view.ts decides what is in it, and
// waterfall.ts where each bar goes; this only builds the elements), and the list of past calls.
import { element, type PageElement } from "./browser.js";
import type { CallView, TurnView } from "./call-view.js";
import type { PastCall } from "../wire.js";
import { signedMs } from "./waterfall.js";

/** Replaces `list`'s items with the call's conversation; `greeting`: how the page heard the opening words. */
export function renderConversation(list: PageElement, view: CallView, greeting: string | null): void {
  const items: PageElement[] = [];
  if (greeting !== null) {
    const cut = view.openingBargeIns.length > 0 ? [badge("barge-in", `you barged in (${view.openingBargeIns[0]!.reason})`)] : [];
    items.push(element("li", "turn opening", said("agent", "Agent", greeting), element("div", "badges", ...cut)));
  }
  for (const turn of view.turns) items.push(turnItem(turn));
  if (items.length === 0) items.push(element("li", "empty", "Nothing said yet."));
  list.replaceChildren(...items);
}

function turnItem(turn: TurnView): PageElement {
  const item = element("li", "turn");
  item.dataset.turn = String(turn.turn);
  item.dataset.key = turn.key;
  const agent = turn.agentText ?? "(this core's TURN lines do not carry the agent's words)";
  const badges: PageElement[] = [];
  if (turn.speculation === "used" || turn.speculation === "discarded") badges.push(badge(`speculation ${turn.speculation}`, `speculation ${turn.speculation}`));
  if (turn.interrupted) badges.push(badge("interrupted", "answer cut short"));
  for (const line of turn.bargeIns) badges.push(badge("barge-in", `you barged in (${line.reason}), ${line.heard_sentences} sentence${line.heard_sentences === 1 ? "" : "s"} heard`));
  item.append(
    element("h3", "turn-title", `Turn ${turn.turn}`),
    said("caller", "You", turn.callerText || "(no words)"),
    said("agent", "Agent", agent),
    element("div", "badges", ...badges),
    waterfallFigure(turn),
  );
  if (turn.waterfall.missing.length > 0) item.append(element("p", "missing", `Not shown: ${turn.waterfall.missing.join("; ")}.`));
  return item;
}

function said(side: "caller" | "agent", who: string, text: string): PageElement {
  return element("div", `said ${side}`, element("span", "who", who), element("p", "words", text));
}

function badge(kind: string, text: string): PageElement {
  return element("span", `badge ${kind.replaceAll(" ", "-")}`, text);
}

function waterfallFigure(turn: TurnView): PageElement {
  const { rows, markers, axis } = turn.waterfall;
  const grid = element("div", "waterfall");
  grid.setAttribute("role", "group");
  grid.setAttribute("aria-label", `Turn ${turn.turn} timings, ms from the end of your speech`);
  rows.forEach((row, index) => {
    const bar = element("div", "bar");
    bar.style.setProperty("--left", `${row.leftPct}%`);
    bar.style.setProperty("--width", `${Math.max(row.widthPct, 0.4)}%`);
    // The speech end and the barge-ins are lines through every row's track, named in the first.
    const track = element("div", "track", at("zero", axis.zeroPct), bar);
    for (const marker of markers) {
      // Named on the side with room: right of the line, or left of it near the axis's end.
      const line = at(marker.leftPct > 60 ? "marker flip" : "marker", marker.leftPct);
      if (index === 0) line.append(element("span", "marker-label", `${marker.label} ${signedMs(marker.atMs)}`));
      track.append(line);
    }
    const line = element("div", `row ${row.key}`, element("span", "label", row.label), track, element("span", "value", row.value));
    line.dataset.key = row.key;
    grid.append(line);
  });
  const ticks = element("div", "ticks");
  for (const tick of axis.ticks) ticks.append(at("tick", tick.pct, tick.ms === 0 ? "speech end" : signedMs(tick.ms)));
  grid.append(element("span", "label"), ticks, element("span", "value"));
  return grid;
}

/** An element placed at `pct` of the axis. */
function at(className: string, pct: number, text = ""): PageElement {
  const placed = element("span", className, text);
  placed.style.setProperty("--at", `${pct}%`);
  return placed;
}

/** Replaces `list`'s items with the session's past calls; `open(callSid)` when one is chosen. */
export function renderPastCalls(list: PageElement, calls: PastCall[], open: (callSid: string) => void): void {
  if (calls.length === 0) return list.replaceChildren(element("li", "empty", "No calls yet."));
  list.replaceChildren(
    ...calls.map((call) => {
      const turns = call.lines.filter((line) => line.message === "TURN").length;
      const time = new Date(call.startedAt).toLocaleTimeString();
      const button = element("button", "past-call", `${time} · …${call.callSid.slice(-6)} · ${turns} turn${turns === 1 ? "" : "s"} · ${call.ended ?? "in progress"}`);
      button.setAttribute("type", "button");
      button.dataset.call = call.callSid;
      button.addEventListener("click", () => open(call.callSid));
      return element("li", "", button);
    }),
  );
}

// The call's record desk: one Durable Object per CallSid (binding RECORDS, idFromName), which keeps
// what the edge and the core said of the call and delivers its record once it is over. A thin shell:
// record-delivery.ts decides when to send, retry, give up and forget; record-assembly.ts builds the
// record; this object keeps the notes in storage, runs the one alarm, and makes the POST.
import { DurableObject } from "cloudflare:workers";
import { RECORD_SIGNATURE_HEADER, RECORD_TIMESTAMP_HEADER, recordSignature, type CoreRecordPart } from "@voice/protocol/call-record";
import type { ConversationState } from "@voice/protocol/core-link";
import type { Env } from "./env.js";
import { errorText, logEvent } from "./log.js";
import { assembleRecord, mergeFacts, partCovers, type DeskNotes, type Sequenced } from "./record-assembly.js";
import { decideDelivery, deliverySettings, INITIAL_DELIVERY, type AttemptResult, type DeliveryAction, type DeliveryEvent, type DeliverySettings, type DeliveryState, type NoteKind } from "./record-delivery.js";
import type { CallEnding, CallFacts, RecordNotes } from "./record-notes.js";

/** Longest one POST to CALL_RECORD_URL may take; a slower receiver counts as down and is retried. */
export const RECORD_POST_TIMEOUT_MS = 10_000;

// Storage keys. DELIVERY (the policy's state) and CALL_SID outlive the notes: they are the tombstone.
const DELIVERY = "delivery";
const CALL_SID = "callSid";
const SEQ = "seq";
const FACTS = "facts";
const LAST_START = "lastStartSeq";
const STATE = "state";
const PART = "part";
const ENDING = "ending";
/** The record's JSON body, built once: every attempt sends exactly this. */
const RECORD = "record";
/** Why no record could be built, when none could. */
const RECORD_PROBLEM = "recordProblem";
const NOTES = [SEQ, FACTS, LAST_START, STATE, PART, ENDING, RECORD, RECORD_PROBLEM];

export class CallRecordDesk extends DurableObject<Env> implements RecordNotes {
  private readonly settings: DeliverySettings;
  private readonly settingsProblem: string | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const { settings, problem } = deliverySettings(env);
    this.settings = settings;
    this.settingsProblem = problem;
  }

  async noteStart(facts: CallFacts): Promise<void> {
    await this.take("facts", facts.callSid, async (seq) => {
      const kept = (await this.ctx.storage.get<CallFacts>(FACTS)) ?? null;
      await this.ctx.storage.put({ [FACTS]: mergeFacts(kept, facts), [LAST_START]: seq });
    });
  }

  async noteState(state: ConversationState): Promise<void> {
    await this.take("state", undefined, (seq) => this.ctx.storage.put<Sequenced<ConversationState>>(STATE, { value: state, seq }));
  }

  async noteCorePart(part: CoreRecordPart): Promise<void> {
    const keep = async (seq: number) => {
      // A late part of an earlier core (the one a transfer left) never replaces a fuller one.
      const kept = await this.ctx.storage.get<Sequenced<CoreRecordPart>>(PART);
      if (kept && kept.value.conversation.length > part.conversation.length) return;
      await this.ctx.storage.put<Sequenced<CoreRecordPart>>(PART, { value: part, seq });
    };
    await this.take("part", part.callSid, keep, part);
  }

  async noteEnd(ending: CallEnding): Promise<void> {
    if (this.settingsProblem) logEvent("WARNING", "call record setting unusable; the default is used", { problem: this.settingsProblem });
    await this.take("ending", undefined, () => this.ctx.storage.put(ENDING, ending));
  }

  override async alarm(): Promise<void> {
    await this.handle({ type: "alarm", at: Date.now() });
  }

  /** A note: the policy says whether it is kept (`write`, given the note's place in the order). */
  /** One note through the policy; `incoming`: the core part this note brings (it is judged before it is kept). */
  private async take(kind: NoteKind, callSid: string | undefined, write: (seq: number) => Promise<void>, incoming?: CoreRecordPart): Promise<void> {
    if (callSid && !(await this.ctx.storage.get(CALL_SID))) await this.ctx.storage.put(CALL_SID, callSid);
    const partReady = kind === "ending" ? await this.partReady() : incoming ? partCovers(incoming, (await this.ctx.storage.get<Sequenced<ConversationState>>(STATE))?.value) : undefined;
    await this.handle({ type: "note", kind, at: Date.now(), partReady }, write);
  }

  /** A core part came in after the call's last stream began, and holds all the edge saw of the conversation. */
  private async partReady(): Promise<boolean> {
    const part = await this.ctx.storage.get<Sequenced<CoreRecordPart>>(PART);
    const state = await this.ctx.storage.get<Sequenced<ConversationState>>(STATE);
    const lastStart = (await this.ctx.storage.get<number>(LAST_START)) ?? 0;
    return !!part && part.seq > lastStart && partCovers(part.value, state?.value);
  }

  private async handle(event: DeliveryEvent, write?: (seq: number) => Promise<void>): Promise<void> {
    const storage = this.ctx.storage;
    const { state, actions } = decideDelivery((await storage.get<DeliveryState>(DELIVERY)) ?? INITIAL_DELIVERY, event, this.settings);
    let sendAttempt: number | undefined;
    let forget = false;
    const lines: Extract<DeliveryAction, { type: "log" }>[] = [];
    const callSid = await storage.get<string>(CALL_SID);
    for (const action of actions) {
      switch (action.type) {
        case "keep":
          if (write) await write(await this.nextSeq());
          break;
        case "endUnseen":
          await storage.put<CallEnding>(ENDING, { endReason: "error", endedAt: action.endedAt });
          break;
        case "assemble":
          await this.assemble();
          break;
        case "send":
          sendAttempt = action.attempt;
          break;
        case "setAlarm":
          await storage.setAlarm(action.at);
          break;
        case "dropNotes":
          await storage.delete(NOTES);
          break;
        case "forget":
          forget = true;
          break;
        case "log":
          lines.push(action);
          break;
      }
    }
    if (forget) {
      await storage.deleteAlarm();
      await storage.deleteAll();
    } else {
      // The state is saved before the send, so that a note arriving while the POST is out sees it.
      await storage.put(DELIVERY, state);
    }
    // Said once it is so: a line means the desk is in the state it tells of.
    for (const line of lines) logEvent(line.severity, line.message, { call_id: callSid, ...line.fields });
    if (forget) return;
    if (sendAttempt !== undefined) {
      const result = await this.send();
      await this.handle({ type: "attempted", attempt: sendAttempt, at: Date.now(), result });
    }
  }

  private async nextSeq(): Promise<number> {
    const seq = ((await this.ctx.storage.get<number>(SEQ)) ?? 0) + 1;
    await this.ctx.storage.put(SEQ, seq);
    return seq;
  }

  private async assemble(): Promise<void> {
    const storage = this.ctx.storage;
    const notes: DeskNotes = {
      facts: (await storage.get<CallFacts>(FACTS)) ?? null,
      state: (await storage.get<Sequenced<ConversationState>>(STATE)) ?? null,
      part: (await storage.get<Sequenced<CoreRecordPart>>(PART)) ?? null,
      ending: (await storage.get<CallEnding>(ENDING)) ?? null,
    };
    const assembly = assembleRecord(notes, (ms) => new Date(ms).toISOString());
    if (assembly.ok) await storage.put(RECORD, JSON.stringify(assembly.record));
    else await storage.put(RECORD_PROBLEM, assembly.reason);
  }

  /** One POST of the record, signed at the moment it leaves. */
  private async send(): Promise<AttemptResult> {
    const body = await this.ctx.storage.get<string>(RECORD);
    if (body === undefined) return { kind: "unsendable", reason: (await this.ctx.storage.get<string>(RECORD_PROBLEM)) ?? "no record was built" };
    const url = this.env.CALL_RECORD_URL;
    const secret = this.env.CALL_RECORD_SECRET;
    if (!url) return { kind: "unsendable", reason: "CALL_RECORD_URL is not set" };
    if (!secret) return { kind: "unsendable", reason: "CALL_RECORD_SECRET is not set" };
    const timestamp = Date.now();
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [RECORD_TIMESTAMP_HEADER]: String(timestamp),
          [RECORD_SIGNATURE_HEADER]: await recordSignature(secret, timestamp, body),
        },
        body,
        // A redirect is the receiver's answer, not a place to re-send a signed record to.
        redirect: "manual",
        signal: AbortSignal.timeout(RECORD_POST_TIMEOUT_MS),
      });
      await response.body?.cancel();
      return { kind: "status", status: response.status };
    } catch (error) {
      return { kind: "network", error: errorText(error) };
    }
  }
}

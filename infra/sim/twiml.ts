// TwiML as the simulator acts on it: the verbs of a <Response>, in order. Twilio's call control as
// our edge uses it is five verbs: <Connect action><Stream url><Parameter/></Stream></Connect>,
// <Say language>, <Dial action timeout callerId>number</Dial> or <Dial><Number url>number</Number></Dial>,
// and <Hangup/>. Anything else is reported, not guessed at.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { z } from "zod";

export interface StreamTwiml {
  /** The Media Streams WebSocket URL (ws:// or wss://). */
  streamUrl: string;
  /** <Parameter name value> pairs, handed back to the edge as start.customParameters. */
  parameters: Record<string, string>;
  /** <Connect action>: where Twilio asks what next once the stream has ended; null without one. */
  action: string | null;
}

export type TwimlVerb =
  | { verb: "Connect"; stream: StreamTwiml }
  | { verb: "Say"; text: string; language: string | null }
  | {
      verb: "Dial";
      /** The number rung. */
      number: string;
      /** Where Twilio posts DialCallStatus once the dial is over; null: go on with the next verb. */
      action: string | null;
      timeoutS: number | null;
      callerId: string | null;
      /** <Number url>: TwiML played to the person who answers, before the two are connected (a whisper). */
      whisperUrl: string | null;
    }
  | { verb: "Hangup" };

/** An ordered node of fast-xml-parser's preserveOrder output: { Tag: children, ":@": attributes }. */
type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
});

const httpUrl = z.string().regex(/^https?:\/\//, "must be an http(s) URL");
const connectAttributes = z.object({ action: httpUrl.optional() });
const streamAttributes = z.object({ url: z.string().regex(/^wss?:\/\//, "Stream url must be ws:// or wss://") });
const parameterAttributes = z.object({ name: z.string().min(1), value: z.string() });
const sayAttributes = z.object({ language: z.string().min(1).optional() });
const dialAttributes = z.object({
  action: httpUrl.optional(),
  timeout: z.string().regex(/^\d+$/, "timeout must be whole seconds").optional(),
  callerId: z.string().min(1).optional(),
});
const numberAttributes = z.object({ url: httpUrl.optional() });

/** Parses a TwiML document into its verbs; throws an Error with a one-line reason for anything it cannot act on. */
export function parseTwiml(xml: string): TwimlVerb[] {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`TwiML is not XML: ${valid.err.msg} (line ${valid.err.line})`);
  let nodes: XmlNode[];
  try {
    nodes = parser.parse(xml) as XmlNode[];
  } catch (error) {
    throw new Error(`TwiML is not XML: ${(error as Error).message}`);
  }
  const response = nodes.find((node) => "Response" in node);
  if (!response) throw new Error("TwiML has no <Response>");
  return (response.Response as XmlNode[]).filter((node) => !("#text" in node)).map(verbOf);
}

/** The webhook's answer: exactly one <Connect><Stream>; throws with a one-line reason otherwise. */
export function parseStreamTwiml(xml: string): StreamTwiml {
  let verbs: TwimlVerb[];
  try {
    verbs = parseTwiml(xml);
  } catch (error) {
    throw new Error(`TwiML has no usable <Connect><Stream>: ${(error as Error).message}`);
  }
  const [first] = verbs;
  if (verbs.length !== 1 || first?.verb !== "Connect") {
    throw new Error(`TwiML has no usable <Connect><Stream>: got ${describeVerbs(verbs)}`);
  }
  return first.stream;
}

/** "<Say><Dial>" — the verbs of a document, for a one-line report. */
export function describeVerbs(verbs: TwimlVerb[]): string {
  return verbs.length ? verbs.map((v) => `<${v.verb}>`).join("") : "an empty <Response>";
}

function verbOf(node: XmlNode): TwimlVerb {
  const name = tagOf(node);
  switch (name) {
    case "Connect":
      return { verb: "Connect", stream: connectOf(node) };
    case "Say": {
      const { language } = attributes(node, sayAttributes, "Say");
      return { verb: "Say", text: textOf(node), language: language ?? null };
    }
    case "Dial":
      return dialOf(node);
    case "Hangup":
      return { verb: "Hangup" };
    default:
      throw new Error(`unexpected TwiML verb <${name}>`);
  }
}

function connectOf(node: XmlNode): StreamTwiml {
  const { action } = attributes(node, connectAttributes, "Connect");
  const children = childrenOf(node);
  const stream = children.find((child) => tagOf(child) === "Stream");
  if (!stream || children.length !== 1) throw new Error("<Connect> must hold one <Stream>");
  const { url } = attributes(stream, streamAttributes, "Stream");
  const parameters: Record<string, string> = {};
  for (const child of childrenOf(stream)) {
    if (tagOf(child) !== "Parameter") throw new Error(`unexpected <${tagOf(child)}> in <Stream>`);
    const parameter = attributes(child, parameterAttributes, "Parameter");
    parameters[parameter.name] = parameter.value;
  }
  return { streamUrl: url, parameters, action: action ?? null };
}

function dialOf(node: XmlNode): TwimlVerb {
  const { action, timeout, callerId } = attributes(node, dialAttributes, "Dial");
  const numberNode = childrenOf(node).find((child) => tagOf(child) === "Number");
  const number = (numberNode ? textOf(numberNode) : textOf(node)).trim();
  if (!number) throw new Error("<Dial> names no number");
  const whisperUrl = numberNode ? (attributes(numberNode, numberAttributes, "Number").url ?? null) : null;
  return { verb: "Dial", number, action: action ?? null, timeoutS: timeout === undefined ? null : Number(timeout), callerId: callerId ?? null, whisperUrl };
}

function tagOf(node: XmlNode): string {
  return Object.keys(node).find((key) => key !== ":@") ?? "";
}

function childrenOf(node: XmlNode): XmlNode[] {
  return ((node[tagOf(node)] as XmlNode[] | undefined) ?? []).filter((child) => !("#text" in child));
}

function textOf(node: XmlNode): string {
  return ((node[tagOf(node)] as XmlNode[] | undefined) ?? []).map((child) => (typeof child["#text"] === "string" ? child["#text"] : "")).join("");
}

function attributes<T>(node: XmlNode, schema: z.ZodType<T>, tag: string): T {
  const parsed = schema.safeParse(node[":@"] ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`<${tag}> ${issue?.path.join(".")}: ${issue?.message}`);
  }
  return parsed.data;
}

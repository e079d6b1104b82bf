// The part of a TwiML answer the simulator acts on: <Connect><Stream url="..."> and its <Parameter>s.
import { XMLParser } from "fast-xml-parser";
import { z } from "zod";

export interface StreamTwiml {
  /** The Media Streams WebSocket URL (ws:// or wss://). */
  streamUrl: string;
  /** <Parameter name value> pairs, handed back to the edge as start.customParameters. */
  parameters: Record<string, string>;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  isArray: (name) => name === "Parameter",
});

const twimlDocument = z.object({
  Response: z.object({
    Connect: z.object({
      Stream: z.object({
        url: z.string().regex(/^wss?:\/\//, "Stream url must be ws:// or wss://"),
        Parameter: z.array(z.object({ name: z.string().min(1), value: z.string() })).default([]),
      }),
    }),
  }),
});

/** Parses a TwiML answer; throws an Error with a one-line reason when it has no usable <Connect><Stream>. */
export function parseStreamTwiml(xml: string): StreamTwiml {
  let parsed: unknown;
  try {
    parsed = parser.parse(xml);
  } catch (error) {
    throw new Error(`TwiML is not XML: ${(error as Error).message}`);
  }
  const result = twimlDocument.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`TwiML has no usable <Connect><Stream>: ${issue?.path.join(".")} ${issue?.message}`);
  }
  const stream = result.data.Response.Connect.Stream;
  return {
    streamUrl: stream.url,
    parameters: Object.fromEntries(stream.Parameter.map((p) => [p.name, p.value])),
  };
}

// The softphone on a running local stack (infra/local/stack.ts), as `npm start` serves it: the
// stack's edge and Twilio secret, its cores' log lines, and, while the speech emulator is the one
// listening, its caller-script registry's live scripts so the page's typed words are heard.
import { LOCAL_SECRETS, type Stack } from "../local/stack.js";
import { LOCAL_ACCOUNT_SID } from "../twilio/stream-start.js";
import { startSoftphone, type Softphone } from "./server.js";

/** The softphone's port under `npm start`: after the registry (8092) and the record receiver (8093). */
export const SOFTPHONE_PORT = 8094;

export interface StackSoftphoneOptions {
  /** Default SOFTPHONE_PORT; 0 picks a free one. */
  port?: number;
  /** The core listens to the speech emulator (default true); false: a real speech service hears the caller. */
  speechEmulated?: boolean;
  /**
   * A real Twilio number's path (PUBLIC_URL through a tunnel): the edge checks signatures over the
   * public URL, so the softphone calls through it as Twilio does, with that account and auth token.
   * Default: the local edge, account and token.
   */
  edgeUrl?: string;
  accountSid?: string;
  authToken?: string;
  log?: (line: string) => void;
}

export function startSoftphoneForStack(stack: Stack, options: StackSoftphoneOptions = {}): Promise<Softphone> {
  const speechEmulated = options.speechEmulated ?? true;
  return startSoftphone({
    edgeUrl: options.edgeUrl ?? stack.edge.url,
    authToken: options.authToken ?? LOCAL_SECRETS.TWILIO_AUTH_TOKEN,
    accountSid: options.accountSid ?? LOCAL_ACCOUNT_SID,
    callLog: stack.callLog,
    ...(speechEmulated && { scriptRegistryUrl: stack.emulators.scriptRegistry.url }),
    port: options.port ?? SOFTPHONE_PORT,
    ...(options.log && { log: options.log }),
  });
}

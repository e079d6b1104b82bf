// What the two Google emulators share: loading a service definition from the .proto files that ship
// inside the client packages (so the wire format is exactly what the real clients speak), binding a
// plaintext gRPC server on loopback, and small helpers for Google's message conventions.
import { createRequire } from "node:module";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { CALL_ID_HEADER } from "./faults.js";

const require = createRequire(import.meta.url);

/** Directory of an installed package that does not restrict its exports. */
function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}

/**
 * google-gax ships the shared protos (google/api, google/rpc, google/protobuf, longrunning). Its
 * `exports` hide package.json, so resolve its entry point as the client package sees it and walk up.
 */
function gaxProtosDir(clientPackageDir: string): string {
  const fromClient = createRequire(path.join(clientPackageDir, "package.json"));
  return path.resolve(path.dirname(fromClient.resolve("google-gax")), "../protos");
}

/**
 * Loads `service` (fully qualified, e.g. "google.cloud.speech.v1.Speech") from `protoFile` inside
 * `clientPackage`'s build/protos. Field names stay as in the .proto (snake_case), enums are names,
 * and `oneofs` adds a virtual field naming which member of a oneof is set.
 */
export function loadGoogleService(clientPackage: string, protoFile: string, service: string): grpc.ServiceDefinition {
  const dir = packageDir(clientPackage);
  const protosDir = path.join(dir, "build/protos");
  const definition = protoLoader.loadSync(path.join(protosDir, protoFile), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [protosDir, gaxProtosDir(dir)],
  });
  const found = definition[service];
  if (!found) throw new Error(`service ${service} not found in ${protoFile}`);
  return found as grpc.ServiceDefinition;
}

export interface GrpcHost {
  port: number;
  /** "127.0.0.1:<port>", the form SPEECH_ENDPOINT / TTS_ENDPOINT take. */
  address: string;
  close(): Promise<void>;
}

/** Binds `server` on 127.0.0.1:`port` (0 = ephemeral) without TLS. */
export async function listenOnLoopback(server: grpc.Server, port: number): Promise<GrpcHost> {
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, actual) =>
      error ? reject(error) : resolve(actual),
    );
  });
  return {
    port: bound,
    address: `127.0.0.1:${bound}`,
    // Emulators stop at once: open calls are cancelled rather than drained, so tests never wait on them.
    close: async () => server.forceShutdown(),
  };
}

/** A validated request part, or the INVALID_ARGUMENT reason it is not. */
export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A google.protobuf.Duration for a millisecond offset. */
export function durationFromMs(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** An error a grpc-js handler can hand to a callback or emit on a stream to end the call with `code`. */
export function grpcError(code: grpc.status, details: string): Partial<grpc.StatusObject> {
  return { code, details };
}

/** The call id a request names in its metadata (x-call-id), if any. */
export function callIdOf(metadata: grpc.Metadata): string | undefined {
  const [value] = metadata.get(CALL_ID_HEADER);
  return typeof value === "string" && value.trim() ? value.trim() : undefined;
}

/** Google's ~5-minute streaming limit, word for word as the service words it. */
export const STREAM_LIMIT_DETAILS = "Exceeded maximum allowed stream duration of 305 seconds.";

/** The details Google's services send with `code` when nothing more specific is said. */
export function googleStatusDetails(code: grpc.status): string {
  switch (code) {
    case grpc.status.UNAVAILABLE:
      return "The service is currently unavailable.";
    case grpc.status.INTERNAL:
      return "Internal error encountered.";
    case grpc.status.DEADLINE_EXCEEDED:
      return "Deadline Exceeded";
    case grpc.status.OUT_OF_RANGE:
      return STREAM_LIMIT_DETAILS;
    default:
      return `injected fault: ${grpc.status[code]}`;
  }
}

/** Default one-line logger for bad input: the reason, prefixed with the emulator's name. */
export function stderrLogger(name: string): (line: string) => void {
  return (line) => console.error(`[${name}] ${line}`);
}

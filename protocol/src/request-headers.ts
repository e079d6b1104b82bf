// Headers the core adds to its requests to the cloud services (and the local emulators read).

/**
 * The call a request serves (gRPC metadata on StreamingRecognize, an HTTP header on OpenAI requests):
 * logs on the far side can be traced to a call, and the local emulators key their per-call fault
 * schedules and script position by it.
 */
export const CALL_ID_HEADER = "x-call-id";

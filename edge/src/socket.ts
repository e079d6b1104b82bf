// WebSocket close codes the relay uses, and a close that never throws.
export const CLOSE_NORMAL = 1000;
export const CLOSE_INTERNAL_ERROR = 1011;

/**
 * Closes a socket, or does nothing when it is already closed. Closing the socket whose close event
 * is being handled is required too: workerd reports the call as hung otherwise.
 */
export function closeQuietly(socket: WebSocket, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Already closed: nothing left to release.
  }
}

/**
 * vLLM uses `X-Request-Id` as the engine's own request id and refuses a second request whose id is
 * still running on that replica, so the id sent upstream must be unique per attempt whatever the client
 * sent (two clients may reuse one id, a retry may land on the same worker). The client's id stays in
 * front so a worker's log line can still be matched to the gateway's. The random part differs per
 * process and per serving thread, which share workers; the counter makes every attempt unique.
 */
const processNonce = crypto.randomUUID().slice(0, 8);
let sequence = 0;

export function upstreamRequestId(clientRequestId: string): string {
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return `${clientRequestId}-${processNonce}${sequence.toString(36)}`;
}

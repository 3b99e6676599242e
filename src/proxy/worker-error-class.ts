/**
 * Whose fault an in-band error event is. vLLM v0.11.0 reports everything that fails inside a stream with
 * code 400 (the stream catch-all's default): an engine that died, a colliding request id, and a prompt
 * the engine refuses alike, and engine death may even come with an empty message. Only the message can
 * tell them apart, so a worker fault is assumed unless the message is clearly the request's own
 * (validation wording from vLLM's processor, sampling parameters and serving layer).
 */
const ENGINE_FAULT = /engine|cuda|out of memory|already running|background loop|internal/i;
const REQUEST_FAULT = new RegExp(
  [
    "maximum (context|model) length",
    "too long|too large|greater than|less than|out of vocabulary",
    "must be|must not|cannot be|can not be|should be",
    "invalid|not supported|unsupported|not allowed|not enabled",
  ].join("|"),
  "i",
);

export function isRequestFault(message: string | undefined): boolean {
  if (!message) return false;
  return !ENGINE_FAULT.test(message) && REQUEST_FAULT.test(message);
}

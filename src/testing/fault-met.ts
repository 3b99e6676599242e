import { expect } from "bun:test";
import type { EmulatorHandle } from "../../workers/emulator/server.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import type { EmulatedGateway } from "./emulated-gateway.ts";
import { waitFor } from "./poll.ts";

export interface FaultRequest {
  /** Armed with `fault` once; the pool's other worker may be picked first, so requests go on until one meets it. */
  armed: EmulatorHandle;
  fault: string;
  /** The chat completion body, `model` included. */
  body: Record<string, unknown>;
  headers?: Record<string, string>;
  /** Whether this request's record shows the fault was met. */
  met(record: RequestRecord): boolean;
}

/** Sends chat completions until one meets the armed fault (at most 4); that request's record. */
export async function untilFaultMet(harness: EmulatedGateway, request: FaultRequest): Promise<RequestRecord> {
  request.armed.setFault(request.fault, 1);
  for (let index = 0; index < 4; index++) {
    const requestId = `${request.fault}-${index}`;
    const headers = { ...request.headers, "x-request-id": requestId };
    const response = await harness.fixture.post("/v1/chat/completions", request.body, headers);
    expect(response.status).toBe(200);
    await response.text();
    const recorded = () => harness.fixture.records.find((record) => record.requestId === requestId);
    await waitFor(() => recorded() !== undefined, 5_000, "the request's record", 20);
    const record = recorded() as RequestRecord;
    if (request.met(record)) return record;
  }
  throw new Error(`no request met ${request.fault}`);
}

import { PoolState } from "./pool-state.ts";
import { selectSlot } from "./ring.ts";

/** Bun Worker entry used by ring.test.ts: selects from a shared pool state and tallies the picks. */
declare const self: Worker;

self.onmessage = (event: MessageEvent<{ state: SharedArrayBuffer; tally: SharedArrayBuffer; picks: number }>) => {
  const state = new PoolState(event.data.state);
  const tally = new Int32Array(event.data.tally);
  for (let i = 0; i < event.data.picks; i++) {
    const slot = selectSlot(state);
    Atomics.add(tally, slot < 0 ? tally.length - 1 : slot, 1);
  }
  self.postMessage("done");
};

import { selectSlot } from "../pool/ring.ts";
import type { Candidates, SelectionContext, SelectionPolicy } from "./selection-policy.ts";

/** The lock-free ring (`balance: "round_robin"`, the default): exact rotation over the available slots. */
export const roundRobinPolicy: SelectionPolicy = {
  name: "round_robin",
  select: (candidates: Candidates, _context: SelectionContext, exclude?: ReadonlySet<number>) =>
    selectSlot(candidates.state, exclude),
};

import { expect, test } from "bun:test";
import { BoundedQueue } from "./bounded-queue.ts";

interface Scenario {
  name: string;
  capacity: number;
  pushes: number;
  discardAfter: number;
  head: number[];
  dropped: number;
}

test.each<Scenario>([
  { name: "under the bound", capacity: 5, pushes: 3, discardAfter: 0, head: [0, 1, 2], dropped: 0 },
  { name: "exactly full", capacity: 3, pushes: 3, discardAfter: 0, head: [0, 1, 2], dropped: 0 },
  { name: "overflow refuses the newest", capacity: 3, pushes: 7, discardAfter: 0, head: [0, 1, 2], dropped: 4 },
  { name: "space freed by a discard is reused in order", capacity: 3, pushes: 5, discardAfter: 2, head: [2, 3, 4], dropped: 0 },
])("$name", ({ capacity, pushes, discardAfter, head, dropped }) => {
  const queue = new BoundedQueue<number>(capacity);
  for (let i = 0; i < pushes; i++) {
    queue.push(i);
    if (i + 1 === capacity && discardAfter > 0) queue.discard(discardAfter);
  }
  expect(queue.peek(10)).toEqual(head);
  expect(queue.length).toBe(head.length);
  expect(queue.dropped).toBe(dropped);
});

test("wraps around the ring many times without losing order", () => {
  const queue = new BoundedQueue<number>(4);
  const seen: number[] = [];
  for (let i = 0; i < 50; i++) {
    queue.push(i);
    if (queue.length === 3) {
      seen.push(...queue.peek(2));
      queue.discard(2);
    }
  }
  seen.push(...queue.peek(10));
  expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
});

test("a capacity below one is refused", () => {
  expect(() => new BoundedQueue(0)).toThrow(RangeError);
});

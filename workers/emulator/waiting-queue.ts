/**
 * vLLM's waiting queue: FCFS, with preempted requests put back at the front. Removal is lazy —
 * an aborted entry stays in the array until it reaches the head — so every operation is O(1)
 * amortised even with thousands of queued requests.
 */
export class WaitingQueue<T> {
  #items: T[] = [];
  #head = 0;
  #count = 0;
  readonly #isQueued: (item: T) => boolean;

  /** `isQueued` tells whether an entry still waits (false once it was aborted). */
  constructor(isQueued: (item: T) => boolean) {
    this.#isQueued = isQueued;
  }

  get size(): number {
    return this.#count;
  }

  push(item: T): void {
    this.#items.push(item);
    this.#count++;
  }

  pushFront(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
    this.#count++;
  }

  /** An entry stopped waiting (aborted); its slot is skipped later. */
  forget(): void {
    this.#count--;
  }

  peek(): T | undefined {
    while (this.#head < this.#items.length && !this.#isQueued(this.#items[this.#head] as T)) this.#head++;
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    const item = this.peek();
    if (item === undefined) return undefined;
    this.#head++;
    this.#count--;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

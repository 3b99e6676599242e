/**
 * vLLM's waiting queues. FCFS (`WaitingQueue`): arrival order, preempted requests go back to the
 * front. Priority (`PriorityWaitingQueue`): a min-heap on the caller's order — (priority, arrival)
 * like vLLM's PriorityRequestQueue — where preempted requests simply re-enter the heap. Removal is
 * lazy in both — an aborted entry stays until it reaches the head — so every operation stays
 * O(1) resp. O(log n) amortised even with thousands of queued requests.
 */
export interface WaitingList<T> {
  readonly size: number;
  push(item: T): void;
  /** A preempted request re-enters the queue. */
  pushFront(item: T): void;
  /** An entry stopped waiting (aborted); its slot is skipped later. */
  forget(): void;
  peek(): T | undefined;
  shift(): T | undefined;
}

export class WaitingQueue<T> implements WaitingList<T> {
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

export class PriorityWaitingQueue<T> implements WaitingList<T> {
  readonly #heap: T[] = [];
  #count = 0;
  readonly #isQueued: (item: T) => boolean;
  readonly #before: (a: T, b: T) => boolean;

  /** `before(a, b)`: a is served first. */
  constructor(isQueued: (item: T) => boolean, before: (a: T, b: T) => boolean) {
    this.#isQueued = isQueued;
    this.#before = before;
  }

  get size(): number {
    return this.#count;
  }

  push(item: T): void {
    const heap = this.#heap;
    heap.push(item);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#before(heap[index] as T, heap[parent] as T)) break;
      this.#swap(index, parent);
      index = parent;
    }
    this.#count++;
  }

  pushFront(item: T): void {
    this.push(item);
  }

  forget(): void {
    this.#count--;
  }

  peek(): T | undefined {
    while (this.#heap.length > 0 && !this.#isQueued(this.#heap[0] as T)) this.#popTop();
    return this.#heap[0];
  }

  shift(): T | undefined {
    const item = this.peek();
    if (item === undefined) return undefined;
    this.#popTop();
    this.#count--;
    return item;
  }

  #popTop(): void {
    const heap = this.#heap;
    const last = heap.pop() as T;
    if (heap.length === 0) return;
    heap[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let best = index;
      if (left < heap.length && this.#before(heap[left] as T, heap[best] as T)) best = left;
      if (right < heap.length && this.#before(heap[right] as T, heap[best] as T)) best = right;
      if (best === index) return;
      this.#swap(index, best);
      index = best;
    }
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap;
    [heap[a], heap[b]] = [heap[b] as T, heap[a] as T];
  }
}

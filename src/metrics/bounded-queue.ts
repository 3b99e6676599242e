/**
 * FIFO with a hard bound, on a fixed ring so appends never allocate or shift. When full, the new item
 * is refused and counted: what already waits keeps its place, so a backlog drains oldest first.
 */
export class BoundedQueue<T> {
  readonly capacity: number;
  readonly #items: (T | undefined)[];
  #head = 0;
  #length = 0;
  #dropped = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.#length;
  }

  /** Items refused because the queue was full, since it was created. */
  get dropped(): number {
    return this.#dropped;
  }

  /** False (and counted) when full. */
  push(item: T): boolean {
    if (this.#length === this.capacity) {
      this.#dropped++;
      return false;
    }
    this.#items[(this.#head + this.#length) % this.capacity] = item;
    this.#length++;
    return true;
  }

  /** Up to `count` items from the head, oldest first, without removing them. */
  peek(count: number): T[] {
    const out: T[] = [];
    const n = Math.min(count, this.#length);
    for (let i = 0; i < n; i++) out.push(this.#items[(this.#head + i) % this.capacity] as T);
    return out;
  }

  /** Removes `count` head items that can never be delivered; they count as dropped. */
  drop(count: number): void {
    const before = this.#length;
    this.discard(count);
    this.#dropped += before - this.#length;
  }

  /** Removes `count` items from the head (after they were delivered). */
  discard(count: number): void {
    const n = Math.min(count, this.#length);
    for (let i = 0; i < n; i++) this.#items[(this.#head + i) % this.capacity] = undefined;
    this.#head = (this.#head + n) % this.capacity;
    this.#length -= n;
  }
}

import { canonicalWorkerUrl, type GatewayConfig, type PoolConfig } from "../config/schema.ts";
import { policyFor } from "../routing/policy-for.ts";
import { hashString } from "../routing/rendezvous-hash.ts";
import {
  type Candidates,
  NO_SELECTION_CONTEXT,
  type SelectionContext,
  type SelectionPolicy,
} from "../routing/selection-policy.ts";
import { MAX_WORKERS_PER_POOL, PoolState, SlotState } from "./pool-state.ts";

/** One upstream worker as routing knows it; immutable. Health and load live elsewhere. */
export interface Worker {
  readonly pool: string;
  readonly url: string;
  readonly slot: number;
}

export interface MembershipChange {
  readonly added: readonly Worker[];
  readonly removed: readonly Worker[];
}

let nextPoolSerial = 1;

/** A pool's members and its shared selection state. Config can be swapped; state stays. */
export class Pool implements Candidates {
  readonly name: string;
  /** Tells this pool object from a later one of the same name (a reload that removed and re-added it). */
  readonly serial = nextPoolSerial++;
  readonly state: PoolState;
  #config: PoolConfig;
  #policy: SelectionPolicy;
  #bySlot: (Worker | undefined)[] = [];
  #hashBySlot: number[] = [];

  /** With `slots`, mirrors another thread's pool over its shared `state` instead of placing `config.workers`. */
  constructor(name: string, config: PoolConfig, state: PoolState = new PoolState(), slots?: SlotUrls) {
    this.name = name;
    this.#config = config;
    this.#policy = policyFor(config);
    this.state = state;
    if (slots) this.mirrorSlots(slots);
    else this.replaceWorkers(config.workers);
  }

  get config(): PoolConfig {
    return this.#config;
  }

  get upstreamModel(): string {
    return this.#config.upstreamModel ?? this.name;
  }

  /** New requests see the new config at once; requests in flight keep the object they read. */
  set config(config: PoolConfig) {
    this.#config = config;
    this.#policy = policyFor(config);
  }

  get policy(): SelectionPolicy {
    return this.#policy;
  }

  workerHash(slot: number): number {
    return this.#hashBySlot[slot] ?? 0;
  }

  workers(): Worker[] {
    return this.#bySlot.filter((worker): worker is Worker => worker !== undefined);
  }

  /** Each slot's worker URL (undefined for a hole): what another thread needs to mirror this pool. */
  slotUrls(): SlotUrls {
    return this.#bySlot.map((worker) => worker?.url);
  }

  /** Takes the owner thread's members slot for slot; slot states are the owner's to write, so none change. */
  mirrorSlots(slots: SlotUrls): void {
    const workerAt = (url: string | undefined, slot: number): Worker | undefined =>
      url === undefined ? undefined : Object.freeze({ pool: this.name, url, slot });
    this.#bySlot = slots.map(workerAt);
    this.#hashBySlot = slots.map((url) => (url === undefined ? 0 : hashString(url)));
  }

  /** The member with this URL, however many trailing slashes an operator typed. */
  worker(url: string): Worker | undefined {
    const wanted = canonicalWorkerUrl(url);
    return this.#bySlot.find((worker) => worker?.url === wanted);
  }

  /** The worker the pool's policy picks, skipping `exclude`d slots; undefined when none is left. */
  select(exclude?: ReadonlySet<number>, context: SelectionContext = NO_SELECTION_CONTEXT): Worker | undefined {
    const slot = this.#policy.select(this, context, exclude);
    return slot < 0 ? undefined : this.#bySlot[slot];
  }

  /**
   * Makes the member set equal to `urls`. Workers that stay keep their slot and therefore their state;
   * new ones start Up (failover and health probing correct an optimistic start within one attempt).
   */
  replaceWorkers(urls: readonly string[], initialState: SlotState = SlotState.Up): MembershipChange {
    const wanted = new Set(urls);
    const removed: Worker[] = [];
    for (const worker of this.workers()) {
      if (wanted.has(worker.url)) continue;
      this.state.setState(worker.slot, SlotState.Empty);
      this.#bySlot[worker.slot] = undefined;
      removed.push(worker);
    }
    const added: Worker[] = [];
    for (const url of wanted) {
      if (this.worker(url)) continue;
      added.push(this.#place(url, initialState));
    }
    return { added, removed };
  }

  addWorker(url: string, initialState: SlotState = SlotState.Up): Worker {
    return this.worker(url) ?? this.#place(canonicalWorkerUrl(url), initialState);
  }

  removeWorker(url: string): Worker | undefined {
    const worker = this.worker(url);
    if (worker) this.replaceWorkers(this.workers().filter((w) => w !== worker).map((w) => w.url));
    return worker;
  }

  #place(url: string, initialState: SlotState): Worker {
    // A removed worker's requests may still be in flight on its slot; reusing it would mix their counts.
    let slot = this.#bySlot.findIndex((worker, index) => worker === undefined && this.state.inFlight(index) === 0);
    if (slot < 0) slot = this.#bySlot.length;
    if (slot >= MAX_WORKERS_PER_POOL) throw new RangeError(`pool ${this.name}: more than ${MAX_WORKERS_PER_POOL} workers`);
    const worker: Worker = Object.freeze({ pool: this.name, url, slot });
    this.#bySlot[slot] = worker;
    this.#hashBySlot[slot] = hashString(url);
    this.state.resetScrapedLoad(slot);
    this.state.setState(slot, initialState);
    if (slot >= this.state.size) this.state.size = slot + 1;
    return worker;
  }
}

/** Worker URLs by slot, holes undefined. */
export type SlotUrls = readonly (string | undefined)[];

/** A pool as another thread sees it: the shared selection state and which worker sits in which slot. */
export interface SharedPool {
  readonly name: string;
  /** The owner's `Pool.serial`: a new one means a new state to mirror. */
  readonly serial: number;
  readonly buffer: SharedArrayBuffer;
  readonly slots: SlotUrls;
}

/** All pools by the name clients send as `model`. */
export class Pools {
  readonly #pools = new Map<string, Pool>();
  /** For a mirror: the owner's serial of each pool it follows. */
  readonly #ownerSerials = new Map<string, number>();
  readonly #isMirror: boolean;

  /** With `shared`, mirrors the owner thread's pools (see `share`) instead of building its own. */
  constructor(config: GatewayConfig, shared?: readonly SharedPool[]) {
    this.#isMirror = shared !== undefined;
    if (shared) this.mirror(config, shared);
    else for (const [name, pool] of Object.entries(config.pools)) this.#pools.set(name, new Pool(name, pool));
  }

  /** What a serving thread needs to route on this very state; send it again after every membership change. */
  share(): SharedPool[] {
    return this.all().map((pool) => ({
      name: pool.name,
      serial: pool.serial,
      buffer: pool.state.buffer,
      slots: pool.slotUrls(),
    }));
  }

  /** Follows the owner's pools: same buffers, same slots; pools it no longer has disappear. */
  mirror(config: GatewayConfig, shared: readonly SharedPool[]): void {
    const names = new Set(shared.map((pool) => pool.name));
    for (const name of this.#pools.keys()) if (!names.has(name)) this.#pools.delete(name);
    for (const { name, serial, buffer, slots } of shared) {
      const poolConfig = config.pools[name];
      if (!poolConfig) continue;
      const pool = this.#pools.get(name);
      if (pool && this.#ownerSerials.get(name) === serial) {
        pool.config = poolConfig;
        pool.mirrorSlots(slots);
      } else this.#pools.set(name, new Pool(name, poolConfig, new PoolState(buffer), slots));
      this.#ownerSerials.set(name, serial);
    }
  }

  get(name: string): Pool | undefined {
    return this.#pools.get(name);
  }

  names(): string[] {
    return [...this.#pools.keys()];
  }

  all(): Pool[] {
    return [...this.#pools.values()];
  }

  /**
   * Applies a reloaded config (a mirror only takes the pool configs: its members are the owner's to
   * change, and `mirror` brings them). Pools keep their state and members that stay; new pools appear,
   * removed pools disappear for new requests. Returns the members that came and went.
   */
  apply(config: GatewayConfig): MembershipChange {
    const added: Worker[] = [];
    const removed: Worker[] = [];
    if (this.#isMirror) {
      for (const [name, pool] of this.#pools) pool.config = config.pools[name] ?? pool.config;
      return { added, removed };
    }
    for (const [name, pool] of this.#pools) {
      if (name in config.pools) continue;
      removed.push(...pool.workers());
      this.#pools.delete(name);
    }
    for (const [name, poolConfig] of Object.entries(config.pools)) {
      const pool = this.#pools.get(name);
      if (!pool) {
        const created = new Pool(name, poolConfig);
        this.#pools.set(name, created);
        added.push(...created.workers());
        continue;
      }
      pool.config = poolConfig;
      if (poolConfig.discovery) continue;
      const change = pool.replaceWorkers(poolConfig.workers);
      added.push(...change.added);
      removed.push(...change.removed);
    }
    return { added, removed };
  }
}

/**
 * Per-group state with a bound. Kapacitor never tells a UDF that a group is gone (barrier and delete-group messages
 * are not forwarded), so without a bound a high-cardinality group-by grows the sidecar forever.
 *
 * Eviction is second chance (CLOCK) rather than exact LRU: a hit only sets a flag, instead of moving the group to the
 * end of the map on every point (a delete and an insert, measurably costly at 10,000 groups). When the bound is
 * passed, the oldest group is evicted unless it was seen since it last reached the front, in which case it is moved to
 * the back with its flag cleared. A group seen recently therefore survives, and each eviction is amortized O(1).
 *
 * Points read from a frame are looked up by their group's bytes (getByBytes): a hash of the bytes leads to the slot
 * directly, with no string decoded and no Map lookup — at thousands of groups those are cache misses on every point.
 * The Map stays the one authority; the byte index only points into it, and forgets slots the Map evicted.
 */
export const DEFAULT_MAX_GROUPS = 100_000;

interface Slot<State> {
  state: State;
  seen: boolean;
  /** Still in the map (an evicted slot may linger in the byte index until overwritten). */
  live: boolean;
  /**
   * A copy of the group's UTF-8 bytes, once looked up by bytes. Compared as bytes, never with the string character by
   * character: with strings of several kinds passing through, each charCodeAt would be a property lookup.
   */
  bytes: Uint8Array | null;
  /** Looked up by bytes once: then in the index, under the hash of its bytes. */
  indexed: boolean;
  hash: number;
}

/**
 * The byte index doubles, up to this many entries, to stay under a quarter full. It is two-way: a group sits at its
 * hash's entry or the one next to it, and a collision only costs a Map lookup.
 */
const MAX_INDEX = 1 << 17;

export class GroupStates<State> {
  private readonly slots = new Map<string, Slot<State>>();
  private index: (Slot<State> | undefined)[] = new Array(64).fill(undefined);
  /** The slot getByBytes found last. */
  private last: Slot<State> | undefined = undefined;
  evicted = 0;

  constructor(
    private readonly newState: () => State,
    readonly maxGroups: number = DEFAULT_MAX_GROUPS,
  ) {}

  get size(): number {
    return this.slots.size;
  }

  get(group: string): State {
    return this.slot(group).state;
  }

  /**
   * The state of the group whose UTF-8 bytes are buf[start, end); `named.group` (the group as a string) is read only
   * when the bytes are not in the index.
   */
  getByBytes(buf: Uint8Array, start: number, end: number, named: { readonly group: string }): State {
    // Points of one group often come in a row: the group found last is tried before any hashing.
    const last = this.last;
    if (last !== undefined && sameGroup(last, last.hash, buf, start, end)) {
      last.seen = true;
      return last.state;
    }
    let h = 0x811c9dc5 ^ (end - start);
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
    // FNV-1a moves information only upwards; murmur3's finalizer spreads it over the low bits the index uses.
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    // 30 bits: a small integer in V8, so the hash field of a slot never changes representation.
    h = (h ^ (h >>> 16)) & 0x3fffffff;
    const index = this.index;
    const at = h & (index.length - 1);
    // Two ways: the group sits at `at` or next to it.
    let hit = index[at];
    if (hit !== undefined && !sameGroup(hit, h, buf, start, end)) {
      hit = index[at ^ 1];
      if (hit !== undefined && !sameGroup(hit, h, buf, start, end)) hit = undefined;
    }
    if (hit !== undefined) {
      hit.seen = true;
      this.last = hit;
      return hit.state;
    }
    const slot = this.slot(named.group);
    if (!slot.indexed) {
      slot.indexed = true;
      slot.hash = h;
      slot.bytes = new Uint8Array(end - start); // a copy (Buffer#slice would be a view of the chunk)
      slot.bytes.set(buf.subarray(start, end));
    }
    if (this.slots.size > index.length >> 2 && index.length < MAX_INDEX) this.growIndex();
    else place(index, slot);
    this.last = slot;
    return slot.state;
  }

  private slot(group: string): Slot<State> {
    const found = this.slots.get(group);
    if (found !== undefined) {
      found.seen = true;
      return found;
    }
    // Evict before inserting, so the group just created is never the one evicted.
    if (this.slots.size >= this.maxGroups) this.evictOne();
    const slot: Slot<State> = { state: this.newState(), seen: false, live: true, bytes: null, indexed: false, hash: 0 };
    this.slots.set(group, slot);
    return slot;
  }

  private growIndex(): void {
    const index: (Slot<State> | undefined)[] = new Array(this.index.length * 2).fill(undefined);
    for (const slot of this.slots.values()) if (slot.indexed) place(index, slot);
    this.index = index;
  }

  private evictOne(): void {
    for (;;) {
      const [oldest, slot] = this.slots.entries().next().value as [string, Slot<State>];
      this.slots.delete(oldest);
      if (!slot.seen) {
        slot.live = false;
        this.evicted++;
        return;
      }
      slot.seen = false;
      this.slots.set(oldest, slot);
    }
  }

  *entries(): IterableIterator<[string, State]> {
    for (const [group, slot] of this.slots) yield [group, slot.state];
  }

  replaceAll(entries: Iterable<[string, State]>): void {
    for (const slot of this.slots.values()) slot.live = false;
    this.slots.clear();
    this.index.fill(undefined);
    for (const [group, state] of entries) {
      this.slots.set(group, { state, seen: false, live: true, bytes: null, indexed: false, hash: 0 });
    }
  }
}

/** Whether the slot holds the group whose bytes (hashing to h) are buf[start, end). */
function sameGroup<State>(slot: Slot<State>, h: number, buf: Uint8Array, start: number, end: number): boolean {
  if (slot.hash !== h || !slot.live) return false;
  const n = end - start;
  const bytes = slot.bytes as Uint8Array;
  if (bytes.length !== n) return false;
  for (let i = 0; i < n; i++) if (bytes[i] !== buf[start + i]) return false;
  return true;
}

/** Into the first of its two entries that is free (or holds an evicted slot), else over the first. */
function place<State>(index: (Slot<State> | undefined)[], slot: Slot<State>): void {
  const at = slot.hash & (index.length - 1);
  const first = index[at];
  if (first === undefined || !first.live || first === slot) index[at] = slot;
  else {
    const second = index[at ^ 1];
    index[second === undefined || !second.live ? at ^ 1 : at] = slot;
  }
}

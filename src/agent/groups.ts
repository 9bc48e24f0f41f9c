/**
 * Per-group state with a bound. Kapacitor never tells a UDF that a group is gone (barrier and delete-group messages
 * are not forwarded), so without a bound a high-cardinality group-by grows the sidecar forever.
 *
 * Groups are keyed by their UTF-8 bytes: a point read from a frame finds its group's state from a hash of the bytes
 * in the frame, with no string decoded and no Map lookup (at thousands of groups those are cache misses and hashing
 * on every point). The bytes of all groups live in one arena, so a new group allocates no buffer of its own, and the
 * table is open addressing with linear probing, kept at most half full, with backward-shift deletion (no tombstones).
 * A lookup by name (a point built as an object, a batch) encodes the name and takes the same path.
 *
 * Eviction is second chance (CLOCK) rather than exact LRU: a hit only sets a flag. Groups sit in a ring in the order
 * they came; when the bound is passed, the group at the front is evicted unless it was seen since it last reached the
 * front, in which case it goes to the back with its flag cleared. A group seen recently therefore survives, and each
 * eviction is amortized O(1).
 */
import { MemoryBoundError } from './errors.js';
import { DEFAULT_STATE_BYTES, GROUP_OVERHEAD_BYTES, type MemoryBudget } from './memory.js';
import type { GroupBytes, GroupKey } from './wire/group-key.js';

export const DEFAULT_MAX_GROUPS = 100_000;

interface Slot<State> {
  state: State;
  /** Seen since it last reached the front of the ring. */
  seen: boolean;
  /** The group's UTF-8 bytes, four to a 32-bit word (the first in the low bits), zero-padded, from arena word keyAt. */
  keyAt: number;
  /** In bytes. */
  keyLen: number;
  hash: number;
  /** The group as a string; for an ASCII group looked up by bytes, made from them only when a snapshot asks. */
  name: string | undefined;
  /** What the group is counted for in the memory budget: overhead, key and state. */
  bytes: number;
}

const encoder = new TextEncoder();

/** The four bytes at buf[i] as a little-endian word: through `words`, a DataView of buf, when there is one. */
const wordAt = (buf: Uint8Array, words: DataView | null, i: number): number =>
  words !== null ? words.getInt32(i, true) : buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);

export class GroupStates<State> {
  private table: (Slot<State> | undefined)[] = new Array(64).fill(undefined);
  private count = 0;
  /** Every live group, oldest first from `head`: the CLOCK ring. */
  private ring: (Slot<State> | undefined)[] = [];
  private head = 0;
  /** The groups' bytes as words: compared a word at a time, four bytes per step. */
  private arena = new Int32Array(1024);
  /** In words, as is arenaDead: the words of evicted groups, reclaimed by compaction. */
  private arenaUsed = 0;
  private arenaDead = 0;
  /** The words of the group being looked up (made while hashing it), and how many. */
  private probe = new Int32Array(64);
  private probeWords = 0;
  /** The slot found last: points of one group often come in a row. */
  private last: Slot<State> | undefined = undefined;
  /** Where get() encodes a name (a Buffer, as frames are: one kind of array through the byte loops). */
  private scratch = Buffer.alloc(256);
  evicted = 0;
  /** The bytes counted for every group together. */
  private bytes = 0;

  /**
   * `budget`: the connection's memory bound, which groups are evicted to stay within; `stateBytes`: what a state
   * costs, measured again after each point (it must be O(1)).
   */
  constructor(
    private readonly newState: () => State,
    readonly maxGroups: number = DEFAULT_MAX_GROUPS,
    private readonly budget: MemoryBudget | null = null,
    private readonly stateBytes: (state: State) => number = () => DEFAULT_STATE_BYTES,
  ) {}

  /**
   * Measures the state of the group found last again (after a point changed it) and evicts other groups if the
   * memory bound is now passed.
   */
  measureLast(): void {
    const s = this.last;
    if (s === undefined) return;
    const bytes = GROUP_OVERHEAD_BYTES + s.keyLen + this.stateBytes(s.state);
    if (bytes === s.bytes) return;
    this.charge(bytes - s.bytes);
    s.bytes = bytes;
    if (this.budget !== null && this.budget.over) this.shed();
  }

  private charge(bytes: number): void {
    this.bytes += bytes;
    this.budget?.add(bytes);
  }

  /**
   * Evicts groups, never the one found last, until the memory bound holds. Throws MemoryBoundError when the
   * connection's own bound is still passed with no other group left: one group (or an open batch) needs more. When
   * only the process's bound is passed, what is left stays: other connections hold the rest.
   */
  shed(): void {
    const budget = this.budget;
    if (budget === null) return;
    while (budget.over && this.count > 1) {
      this.evictOne();
    }
    if (budget.overOwn) {
      throw new MemoryBoundError(
        `needs more than the memory bound of ${budget.limit} bytes per connection (${budget.used} counted, ${this.count} group(s) left): raise --max-connection-memory or make the task keep less (a smaller size or window)`,
      );
    }
  }

  get size(): number {
    return this.count;
  }

  /** The state of the group (a new one made for a group not seen, or evicted, before). */
  get(key: GroupKey): State {
    if (typeof key !== 'string') return this.slotOf(key.buf, key.words, key.groupAt, key.groupEnd, undefined, key).state;
    let r = encoder.encodeInto(key, this.scratch);
    if (r.read < key.length) {
      this.scratch = Buffer.alloc(key.length * 3); // UTF-8 takes at most 3 bytes per UTF-16 unit
      r = encoder.encodeInto(key, this.scratch);
    }
    return this.slotOf(this.scratch, null, 0, r.written, key, null).state;
  }

  /** `words`: a DataView of buf, or null (the bytes are then read one at a time). */
  private slotOf(buf: Uint8Array, words: DataView | null, start: number, end: number, name: string | undefined, named: GroupBytes | null): Slot<State> {
    const n = end - start;
    // Points of one group often come in a row: the group found last is compared first, before any hashing.
    const last = this.last;
    if (last !== undefined && last.keyLen === n && this.sameAs(last, buf, words, start, end)) {
      last.seen = true;
      return last;
    }
    const h = this.hashProbe(buf, words, start, end);
    const table = this.table;
    const mask = table.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = table[i];
      if (slot === undefined) break;
      if (slot.hash === h && this.holds(slot, n)) {
        slot.seen = true;
        this.last = slot;
        return slot;
      }
    }
    // A new group. Bytes that are not all ASCII are read as a string first: that checks they are UTF-8 (a
    // DecodeError ends the connection, as for any undecodable frame) before anything is stored. An ASCII group
    // (the usual tag values) needs no check, and its string is made only if a snapshot asks for it.
    if (named !== null) {
      let bits = 0;
      for (let i = start; i < end; i++) bits |= buf[i];
      if (bits >= 0x80) name = named.group;
    }
    // Before inserting, so the new group is never the one evicted; the group found before is not protected then.
    this.last = undefined;
    if (this.count >= this.maxGroups) this.evictOne();
    const keyAt = this.store();
    const state = this.newState();
    const bytes = GROUP_OVERHEAD_BYTES + n + this.stateBytes(state);
    const slot: Slot<State> = { state, seen: false, keyAt, keyLen: n, hash: h, name, bytes };
    this.insert(slot);
    this.ring.push(slot);
    this.last = slot;
    this.charge(bytes);
    if (this.budget !== null && this.budget.over) this.shed();
    return slot;
  }

  /**
   * Reads the group's bytes into probe as words and returns their hash: murmur3 (32-bit), a word per step; the
   * table uses the low bits, so every byte must reach them. 30 bits: a small integer in V8, so a slot's hash field
   * never changes representation.
   */
  private hashProbe(buf: Uint8Array, words: DataView | null, start: number, end: number): number {
    const count = (end - start + 3) >> 2;
    if (count > this.probe.length) this.probe = new Int32Array(count * 2);
    const probe = this.probe;
    let h = end - start;
    let i = start;
    let w = 0;
    for (; i + 4 <= end; i += 4) {
      let k = wordAt(buf, words, i);
      probe[w++] = k;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    if (i < end) {
      let k = 0;
      for (let s = 0; i < end; i++, s += 8) k |= buf[i] << s;
      probe[w++] = k;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
    }
    this.probeWords = w;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) & 0x3fffffff;
  }

  /** Whether the slot's key is buf[start, end) (of its length), compared a word at a time as it is stored. */
  private sameAs(slot: Slot<State>, buf: Uint8Array, words: DataView | null, start: number, end: number): boolean {
    const arena = this.arena;
    let at = slot.keyAt;
    let i = start;
    for (; i + 4 <= end; i += 4) {
      if (arena[at++] !== wordAt(buf, words, i)) return false;
    }
    if (i === end) return true;
    let k = 0;
    for (let s = 0; i < end; i++, s += 8) k |= buf[i] << s;
    return arena[at] === k;
  }

  /** Whether the slot holds the group in probe (n bytes). */
  private holds(slot: Slot<State>, n: number): boolean {
    if (slot.keyLen !== n) return false;
    const arena = this.arena;
    const probe = this.probe;
    const at = slot.keyAt;
    for (let k = 0, words = this.probeWords; k < words; k++) if (arena[at + k] !== probe[k]) return false;
    return true;
  }

  private insert(slot: Slot<State>): void {
    if (++this.count * 2 > this.table.length) {
      const old = this.table;
      this.table = new Array(old.length * 2).fill(undefined);
      for (const s of old) if (s !== undefined) this.place(s);
    }
    this.place(slot);
  }

  private place(slot: Slot<State>): void {
    const table = this.table;
    const mask = table.length - 1;
    let i = slot.hash & mask;
    while (table[i] !== undefined) i = (i + 1) & mask;
    table[i] = slot;
  }

  /** Takes the slot out of the table, moving back the entries after it that would no longer be found. */
  private remove(slot: Slot<State>): void {
    const table = this.table;
    const mask = table.length - 1;
    let i = slot.hash & mask;
    while (table[i] !== slot) i = (i + 1) & mask;
    table[i] = undefined;
    for (let j = (i + 1) & mask; table[j] !== undefined; j = (j + 1) & mask) {
      const home = (table[j] as Slot<State>).hash & mask;
      // The entry at j may move to the hole at i unless its home lies cyclically in (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (!stays) {
        table[i] = table[j];
        table[j] = undefined;
        i = j;
      }
    }
    this.count--;
    this.charge(-slot.bytes);
    this.arenaDead += (slot.keyLen + 3) >> 2;
    if (this.last === slot) this.last = undefined;
  }

  private evictOne(): void {
    const ring = this.ring;
    for (;;) {
      const slot = ring[this.head] as Slot<State>;
      ring[this.head++] = undefined;
      // The group found last is the one being served: never evicted under it.
      if (slot.seen || slot === this.last) {
        slot.seen = false;
        ring.push(slot);
        continue;
      }
      this.remove(slot);
      this.evicted++;
      break;
    }
    // The ring's front is consumed as a queue; drop the consumed part once it is most of the array.
    if (this.head > 1024 && this.head * 2 > ring.length) {
      this.ring = ring.slice(this.head);
      this.head = 0;
    }
  }

  /** Copies the words in probe into the arena; returns where. */
  private store(): number {
    const n = this.probeWords;
    if (this.arenaUsed + n > this.arena.length) {
      const live = this.arenaUsed - this.arenaDead;
      // Compact when evicted groups' words are most of the arena; grow otherwise (or as well).
      const size = Math.max(this.arena.length * (live * 2 > this.arena.length ? 2 : 1), (live + n) * 2);
      const arena = new Int32Array(size);
      let used = 0;
      for (let k = this.head; k < this.ring.length; k++) {
        const s = this.ring[k] as Slot<State>;
        const words = (s.keyLen + 3) >> 2;
        arena.set(this.arena.subarray(s.keyAt, s.keyAt + words), used);
        s.keyAt = used;
        used += words;
      }
      this.arena = arena;
      this.arenaUsed = used;
      this.arenaDead = 0;
    }
    const at = this.arenaUsed;
    this.arena.set(this.probe.subarray(0, n), at);
    this.arenaUsed += n;
    return at;
  }

  /** An ASCII group's string, from its words (read byte by byte: the same on any platform's endianness). */
  private keyString(s: Slot<State>): string {
    const bytes = Buffer.allocUnsafe(s.keyLen);
    for (let i = 0; i < s.keyLen; i++) bytes[i] = (this.arena[s.keyAt + (i >> 2)] >>> ((i & 3) * 8)) & 0xff;
    return bytes.toString('latin1');
  }

  /** Every group and its state, oldest first. */
  *entries(): IterableIterator<[string, State]> {
    for (let k = this.head; k < this.ring.length; k++) {
      const s = this.ring[k] as Slot<State>;
      s.name ??= this.keyString(s);
      yield [s.name, s.state];
    }
  }

  replaceAll(entries: Iterable<[string, State]>): void {
    this.charge(-this.bytes);
    this.table = new Array(64).fill(undefined);
    this.count = 0;
    this.ring = [];
    this.head = 0;
    this.arenaUsed = 0;
    this.arenaDead = 0;
    this.last = undefined;
    for (const [group, state] of entries) {
      const bytes = Buffer.from(group, 'utf8');
      const slot = this.slotOf(bytes, null, 0, bytes.length, group, null);
      slot.state = state;
      this.measureLast();
    }
  }
}

/**
 * Per-group state with a bound. Kapacitor never tells a UDF that a group is gone (barrier and delete-group messages
 * are not forwarded), so without a bound a high-cardinality group-by grows the sidecar forever.
 *
 * Eviction is second chance (CLOCK) rather than exact LRU: a hit only sets a flag, instead of moving the group to the
 * end of the map on every point (a delete and an insert, measurably costly at 10,000 groups). When the bound is
 * passed, the oldest group is evicted unless it was seen since it last reached the front, in which case it is moved to
 * the back with its flag cleared. A group seen recently therefore survives, and each eviction is amortized O(1).
 */
export const DEFAULT_MAX_GROUPS = 100_000;

interface Slot<State> {
  state: State;
  seen: boolean;
}

export class GroupStates<State> {
  private readonly slots = new Map<string, Slot<State>>();
  evicted = 0;

  constructor(
    private readonly newState: () => State,
    readonly maxGroups: number = DEFAULT_MAX_GROUPS,
  ) {}

  get size(): number {
    return this.slots.size;
  }

  get(group: string): State {
    const slot = this.slots.get(group);
    if (slot !== undefined) {
      slot.seen = true;
      return slot.state;
    }
    // Evict before inserting, so the group just created is never the one evicted.
    if (this.slots.size >= this.maxGroups) this.evictOne();
    const state = this.newState();
    this.slots.set(group, { state, seen: false });
    return state;
  }

  private evictOne(): void {
    for (;;) {
      const [oldest, slot] = this.slots.entries().next().value as [string, Slot<State>];
      this.slots.delete(oldest);
      if (!slot.seen) {
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
    this.slots.clear();
    for (const [group, state] of entries) this.slots.set(group, { state, seen: false });
  }
}

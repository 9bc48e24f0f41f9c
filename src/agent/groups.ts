/**
 * Per-group state with a bound. Kapacitor never tells a UDF that a group is gone (barrier and delete-group messages
 * are not forwarded), so without a bound a high-cardinality group-by grows the sidecar forever. The map keeps insertion
 * order as recency order (a touched group is moved to the end) and evicts the least recently seen group past the bound.
 */
export const DEFAULT_MAX_GROUPS = 100_000;

export class GroupStates<State> {
  private readonly states = new Map<string, State>();
  evicted = 0;

  constructor(
    private readonly newState: () => State,
    readonly maxGroups: number = DEFAULT_MAX_GROUPS,
  ) {}

  get size(): number {
    return this.states.size;
  }

  get(group: string): State {
    const states = this.states;
    let state = states.get(group);
    if (state === undefined) {
      state = this.newState();
      states.set(group, state);
      if (states.size > this.maxGroups) {
        states.delete(states.keys().next().value as string);
        this.evicted++;
      }
    } else if (states.size > 1) {
      states.delete(group);
      states.set(group, state);
    }
    return state;
  }

  entries(): IterableIterator<[string, State]> {
    return this.states.entries();
  }

  replaceAll(entries: Iterable<[string, State]>): void {
    this.states.clear();
    for (const [k, v] of entries) this.states.set(k, v);
  }
}

/**
 * A memory bound in bytes, per connection and per process. What is counted is an estimate of what the agent keeps for
 * a task: per group its key, its bookkeeping and its state (UdfLogic.stateBytes), and the points of an open batch.
 * Counting is O(1) per point: a group's state is measured again after each of its points, by a function that reads a
 * length or two.
 */

/** Defaults (docs/operations.md lists them). */
export const DEFAULT_MAX_CONNECTION_MEMORY = 256 * 1024 * 1024;
export const DEFAULT_MAX_MEMORY = 1024 * 1024 * 1024;

/** A group's cost besides its key and state: its slot, its table and ring entries. */
export const GROUP_OVERHEAD_BYTES = 128;
/** A state's cost when its function does not say (a few numbers in an object). */
export const DEFAULT_STATE_BYTES = 64;
/** A point held in an open batch besides its frame: the view and its place in the list. */
export const HELD_POINT_OVERHEAD_BYTES = 96;

export class MemoryBudget {
  used = 0;

  /** `parent`: the process's budget, which every connection's counts towards. */
  constructor(
    readonly limit: number,
    readonly parent: MemoryBudget | null = null,
  ) {}

  add(bytes: number): void {
    this.used += bytes;
    if (this.parent !== null) this.parent.used += bytes;
  }

  /** Over this budget or the process's. */
  get over(): boolean {
    return this.used > this.limit || (this.parent !== null && this.parent.used > this.parent.limit);
  }

  /** Over this connection's own budget (the process's may still have room). */
  get overOwn(): boolean {
    return this.used > this.limit;
  }

  /** Gives back everything counted here (the connection closed). */
  release(): void {
    if (this.parent !== null) this.parent.used -= this.used;
    this.used = 0;
  }
}

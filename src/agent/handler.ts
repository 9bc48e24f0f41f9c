/**
 * What a function author writes. A function is a definition: a name, an option schema and `create`, which turns
 * validated options into the per-group logic (or throws an OptionError, which becomes InitResponse success=false).
 * The logic says how to make a fresh state for a group and what to do with one point given that group's state.
 *
 * Everything else is the agent's: the protocol, keepalives, the group map and its bound, snapshots (a state must be
 * plain data — objects, arrays, numbers, strings, booleans, bigints — so the agent can serialize it), batch envelopes.
 * Every definition is served twice: stream → stream as `name`, and batch → batch as `nameBatch`, with state kept per
 * group across batches.
 */
import type { EdgeType, Point } from './messages.js';
import type { OptionSchema, ParsedOptions } from './options.js';

export type Emit = (point: Point) => void;

export interface UdfLogic<State> {
  newState(): State;
  /**
   * One point of one group. Points are read-only (in the sidecar, views of the received bytes: see points.ts): read
   * fields with fieldValue/numericField, emit the point as it is (it leaves as the bytes it came in), or emit a new one
   * made with pointLike/pointLikeDouble/withFields. A point kept in the state past the call goes through keepPoint.
   */
  point(point: Point, state: State, emit: Emit): void;
  /**
   * A group's state read back from a snapshot, possibly one taken by an earlier build whose state had another shape:
   * returns it in the current shape. Without it, states are restored as they were read.
   */
  restored?(state: unknown): State;
  /**
   * About how many bytes the state holds (its numbers, strings and kept points), for the memory bound. Called after
   * every point of the group, so it must be O(1): read a length, not walk the state. Without it a state counts as
   * a few numbers.
   */
  stateBytes?(state: State): number;
}

export interface UdfDefinition<S extends OptionSchema = OptionSchema, State = unknown> {
  name: string;
  /** One line for `--help`, the README and the InfoResponse log. */
  doc: string;
  options: S;
  create(options: ParsedOptions<S>): UdfLogic<State>;
}

/** Declares a function with its option types inferred from the schema literal. */
export function defineUdf<const S extends OptionSchema, State>(def: UdfDefinition<S, State>): UdfDefinition<S, State> {
  return def;
}

/** A definition as served on one socket: stream or batch. */
export interface ServedFunction {
  name: string;
  edge: EdgeType;
  definition: UdfDefinition<OptionSchema, unknown>;
}

export function servedVariants(def: UdfDefinition<OptionSchema, unknown>): ServedFunction[] {
  return [
    { name: def.name, edge: 'stream', definition: def },
    { name: `${def.name}Batch`, edge: 'batch', definition: def },
  ];
}

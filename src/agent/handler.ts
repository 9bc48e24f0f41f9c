/**
 * What a function author writes (docs/writing-a-function.md). A function is a definition: a name, an option schema and
 * `create`, which turns validated options into a Handler (or throws an OptionError, which becomes InitResponse
 * success=false). A Handler declares its per-group state — a version and how to make a fresh one — and what to do
 * with one point given that group's state.
 *
 * Everything else is the agent's: the protocol, keepalives, the group map and its bound, snapshots (a state must be
 * plain data — objects, arrays, numbers, strings, booleans, bigints, Times, points — so the agent can serialize it),
 * restoring states of older versions through `migrate`, batch envelopes, and copying the points a state holds.
 * Every definition is served twice: stream → stream as `name`, and batch → batch as `nameBatch`, with state kept per
 * group across batches.
 */
import { SnapshotError } from './errors.js';
import type { EdgeType, EndBatch, Point } from './messages.js';
import type { OptionSchema, ParsedOptions } from './options.js';
import { detachedCopy } from './points.js';
import { Time } from './time.js';

export type Emit = (point: Point) => void;

export interface StateSpec<S> {
  /**
   * The shape's version, written into every snapshot. Raise it when the shape changes and say in `migrate` how an
   * older one becomes this one; snapshots taken before versions existed are version 1.
   */
  version: number;
  /** A fresh state, for a group's first point. */
  create(): S;
  /**
   * Whether a state read back from a snapshot (already migrated to this version) is one: a group whose state is not
   * starts fresh, and is logged.
   */
  valid(state: unknown): state is S;
  /** A state of an earlier version `from` in this version's shape (checked with `valid` afterwards); may throw. */
  migrate?(old: unknown, from: number): unknown;
  /**
   * About how many bytes the state holds (its numbers, strings and held points), for the memory bound. Called after
   * every point of the group, so it must be O(1): read a length, not walk the state. Without it a state counts as
   * a few numbers.
   */
  bytes?(state: S): number;
}

export interface Handler<S> {
  state: StateSpec<S>;
  /**
   * One point of one group. Points are read-only (in the sidecar, views of the received bytes): read fields with
   * fieldValue/numericField and the time with timeOf; emit the point as it is (it leaves as the bytes it came in), or a
   * new one made with pointLike/pointLikeDouble/withFields.
   */
  point(point: Point, state: S, emit: Emit): void;
  /** Batch only: after a batch's last point, before the batch is answered — emit a batch's total here (batchPoint). */
  end?(state: S, emit: Emit, batch: EndBatch): void;
  /**
   * The state may keep a point (the one handled, or one made from it) past the call. The agent then copies every view
   * a state references after each call, so that a held point does not pin the socket chunk it arrived in.
   */
  holdsPoints?: boolean;
}

export interface UdfSpec<S extends OptionSchema> {
  name: string;
  /** One line for `--help`, the README and the InfoResponse log. */
  doc: string;
  options: S;
  /**
   * The handler for one task's options, served as `edge` (a function whose options mean something else for a stream
   * than for a batch can tell); written `return handler({ state, point })` so the state's type is inferred.
   */
  create(options: ParsedOptions<S>, edge: EdgeType): Handler<unknown>;
}

/** A handler, its state's type inferred from `state.create`. */
export function handler<State>(h: Handler<State>): Handler<State> {
  return h;
}

/** A handler as the session drives it, with the types of options and state erased. */
export interface UdfLogic<State = unknown> {
  readonly stateVersion: number;
  newState(): State;
  point(point: Point, state: State, emit: Emit): void;
  end?(state: State, emit: Emit, batch: EndBatch): void;
  /** A group's state read back from a snapshot whose states are of `version`: in this version's shape, or throws. */
  restored(state: unknown, version: number): State;
  stateBytes?(state: State): number;
}

/** A function as declared: served as a stream and as a batch function. */
export interface UdfDefinition {
  name: string;
  doc: string;
  options: OptionSchema;
  create(options: ParsedOptions<OptionSchema>, edge: EdgeType): UdfLogic;
}

/** A function as one socket serves it, its edge fixed. */
export interface ServedDefinition extends Omit<UdfDefinition, 'create'> {
  create(options: ParsedOptions<OptionSchema>): UdfLogic;
}

/** Declares a function, its option types inferred from the schema literal. */
export function defineUdf<const S extends OptionSchema>(spec: UdfSpec<S>): UdfDefinition {
  return {
    name: spec.name,
    doc: spec.doc,
    options: spec.options,
    create: (options, edge) => logicOf(spec.name, spec.create(options as ParsedOptions<S>, edge)) as UdfLogic,
  };
}

function logicOf<S>(name: string, h: Handler<S>): UdfLogic<S> {
  const { state } = h;
  return {
    stateVersion: state.version,
    newState: state.create,
    // Functions that hold no point pay nothing: theirs is called as it is.
    point: h.holdsPoints ? holding(h.point) : h.point,
    end: h.end && h.holdsPoints ? holdingEnd(h.end) : h.end,
    restored(s: unknown, version: number): S {
      if (version > state.version) throw new SnapshotError(`state version ${version} is newer than this build's ${state.version}`);
      let current = s;
      if (version < state.version) {
        if (state.migrate === undefined) throw new SnapshotError(`state version ${version} cannot be read (this build's is ${state.version})`);
        current = state.migrate(s, version);
      }
      if (!state.valid(current)) throw new SnapshotError(`state is not a ${name} state of version ${state.version}`);
      return current;
    },
    stateBytes: state.bytes,
  };
}

/** The copies made for one connection's states: a view is copied once, and a copy is not copied again. */
class Detacher {
  private readonly copyOf = new WeakMap<object, Point>();
  private readonly copies = new WeakSet<object>();

  /** Replaces every view of a frame that `x` references (to a small depth) with its copy. */
  detachIn(x: unknown, depth = 3): void {
    if (x === null || typeof x !== 'object' || x instanceof Time) return;
    const o = x as Record<string, unknown>;
    for (const k in o) {
      const v = o[k];
      if (v === null || typeof v !== 'object' || this.copies.has(v)) continue;
      let copy = this.copyOf.get(v);
      if (copy === undefined) {
        copy = detachedCopy(v, this.copies);
        if (copy !== undefined) this.copyOf.set(v, copy);
      }
      if (copy !== undefined) o[k] = copy;
      else if (depth > 0) this.detachIn(v, depth - 1);
    }
  }
}

function holding<S>(point: Handler<S>['point']): Handler<S>['point'] {
  const d = new Detacher();
  return (p, s, emit) => {
    point(p, s, emit);
    d.detachIn(s);
  };
}

function holdingEnd<S>(end: NonNullable<Handler<S>['end']>): NonNullable<Handler<S>['end']> {
  const d = new Detacher();
  return (s, emit, batch) => {
    end(s, emit, batch);
    d.detachIn(s);
  };
}

/** A definition as served on one socket: stream or batch. */
export interface ServedFunction {
  name: string;
  edge: EdgeType;
  definition: ServedDefinition;
}

export function servedVariants(def: UdfDefinition): ServedFunction[] {
  const served = (edge: EdgeType): ServedDefinition => ({ ...def, create: (options) => def.create(options, edge) });
  return [
    { name: def.name, edge: 'stream', definition: served('stream') },
    { name: `${def.name}Batch`, edge: 'batch', definition: served('batch') },
  ];
}

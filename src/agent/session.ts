/**
 * The protocol state machine of one connection, sans-IO: Requests in, Responses pushed to a sink.
 *
 *   fresh ──Init ok──▶ ready ⇄ (BeginBatch … EndBatch) in batch
 *
 * Info, Keepalive and Snapshot are answered in any state. A point before Init, a batch message on a stream function
 * (or the reverse), or an EndBatch without BeginBatch is a protocol error: the session answers ErrorResponse and asks
 * its connection to close. Init that fails answers success=false and leaves the session fresh (Kapacitor then stops the
 * task); Restore of unreadable bytes answers success=false and keeps the current state.
 */
import type { Logger } from '../log.js';
import type { LogThrottle } from './log-throttle.js';
import { GroupStates, DEFAULT_MAX_GROUPS } from './groups.js';
import { DEFAULT_MAX_CONNECTION_MEMORY, MemoryBudget } from './memory.js';
import { pointBytes } from './points.js';
import type { ServedFunction, UdfLogic } from './handler.js';
import type { BeginBatch, EndBatch, InitOption, Point, Request, Response } from './messages.js';
import { infoOptions, optionsFingerprint, parseOptions } from './options.js';
import { ProtocolError } from './errors.js';
import { type BatchGroup, fittingGroups, readRestore, SnapshotJob } from './session-snapshot.js';
import { groupKey } from './wire/frame-point.js';

export interface ResponseSink {
  push(r: Response): void;
  /** push({ kind: 'point', point }) without the wrapper, when the sink has it: the hot path. */
  pushPoint?(point: Point): void;
}

/** Instrumentation hooks; every one optional, so an unobserved session pays nothing. */
export interface SessionObserver {
  init?(fn: string, ok: boolean, error?: string): void;
  pointsIn?(fn: string, n: number): void;
  pointsOut?(fn: string, n: number): void;
  snapshot?(fn: string, bytes: number): void;
  restore?(fn: string, ok: boolean, error?: string): void;
  protocolError?(fn: string, error: string): void;
}

/**
 * Where a session's state outlives its connection (src/agent/state-store.ts). Both hooks run inside the request they
 * belong to, so what they decide is answered in order.
 */
export interface SessionPersistence {
  /** After a successful Init: the group states to continue from (their shape's version too), or null to start fresh. */
  attach(session: Session, options: InitOption[]): { groups: [string, unknown][]; stateVersion: number } | null;
  /** A Restore that matches function and options: false keeps the session's own state (the hook logs why). */
  admitRestore(session: Session, snapshotTakenAt: number | undefined): boolean;
}

export interface SessionOptions {
  maxGroups?: number;
  /** Bytes this connection's groups and open batch may hold (estimated); DEFAULT_MAX_CONNECTION_MEMORY. */
  maxConnectionMemory?: number;
  /** The process's budget, shared by every connection; none in process mode or tests unless given. */
  processMemory?: MemoryBudget;
  log?: Logger;
  /** Where lines about bad connections go, throttled (the server shares one among its connections); else `log`. */
  badConnectionLog?: LogThrottle;
  observer?: SessionObserver;
  persistence?: SessionPersistence;
}

interface OpenBatch {
  begin: BeginBatch;
  out: Point[];
  group: BatchGroup;
  /** Points at or before this time were processed in earlier batches of the group. */
  seenBefore: bigint | null;
  /** What the points in `out` are counted for in the memory budget. */
  bytes: number;
}

export class Session {
  private logic: UdfLogic<unknown> | null = null;
  private groups: GroupStates<unknown> | null = null;
  private fingerprint = '';
  private batch: OpenBatch | null = null;
  private readonly emitStream: (p: Point) => void;
  private readonly emitBatch: (p: Point) => void;
  private pointsOut = 0;
  /** A snapshot being built, a slice of groups per step; no request is handled until it is answered. */
  private building: SnapshotJob | null = null;
  /** Everything this connection keeps for its task, counted towards the process's budget too. */
  readonly memory: MemoryBudget;
  taskId = '';
  nodeId = '';
  /** Set once the session has answered with an ErrorResponse; the connection closes after flushing. */
  failed = false;

  constructor(
    readonly fn: ServedFunction,
    private readonly sink: ResponseSink,
    private readonly options: SessionOptions = {},
  ) {
    const pushPoint = sink.pushPoint?.bind(sink);
    this.emitStream = pushPoint
      ? (point) => {
          this.pointsOut++;
          pushPoint(point);
        }
      : (point) => {
          this.pointsOut++;
          this.sink.push({ kind: 'point', point });
        };
    this.memory = new MemoryBudget(options.maxConnectionMemory ?? DEFAULT_MAX_CONNECTION_MEMORY, options.processMemory ?? null);
    this.emitBatch = (point) => {
      this.pointsOut++;
      const batch = this.batch as OpenBatch;
      batch.out.push(point);
      // A batch that is never ended must not grow without bound: its points count like groups do.
      const bytes = pointBytes(point);
      batch.bytes += bytes;
      this.memory.add(bytes);
      if (this.memory.over) (this.groups as GroupStates<unknown>).shed();
    };
  }

  /** Gives back what the connection's task was counted for (the connection closed). */
  release(): void {
    this.memory.release();
  }

  /**
   * True while a snapshot is being built: the caller hands over no request until continueSnapshot() has answered it,
   * so the snapshot is of one moment, and at most one is pending per connection.
   */
  get busy(): boolean {
    return this.building !== null;
  }

  /** Builds the next slice of the pending snapshot; returns true once it is answered (or none was pending). */
  continueSnapshot(): boolean {
    const job = this.building;
    if (job === null) return true;
    const bytes = job.step(this.fn.definition.name, this.fingerprint, this.stateVersion);
    if (bytes === null) return false;
    this.building = null;
    this.options.observer?.snapshot?.(this.fn.name, bytes.length);
    this.sink.push({ kind: 'snapshot', snapshot: bytes });
    return true;
  }

  /** Whether Init succeeded: the connection belongs to a task. */
  get initialized(): boolean {
    return this.logic !== null;
  }

  /** Handles one request. Returns false once the connection should close (after an ErrorResponse). */
  handle(req: Request): boolean {
    if (this.failed) return false;
    if (this.building !== null) throw new Error('a request handed to a session while its snapshot is being built');
    try {
      this.dispatch(req);
    } catch (err) {
      this.failWith(err);
    }
    return !this.failed;
  }

  /** handle({ kind: 'point', point }) without the wrapper: the hot path. */
  handlePoint(point: Point): boolean {
    if (this.failed) return false;
    try {
      this.point(point);
    } catch (err) {
      this.failWith(err);
    }
    return !this.failed;
  }

  private failWith(err: unknown): void {
    this.fail(err instanceof ProtocolError ? err.message : `${this.fn.name}: ${(err as Error).message}`);
  }

  /** Answers ErrorResponse (which aborts the task in Kapacitor) and marks the session finished. */
  fail(message: string): void {
    if (this.failed) return;
    this.failed = true;
    (this.options.badConnectionLog ?? this.options.log)?.error('ending connection with ErrorResponse', { ...this.where, error: message });
    this.options.observer?.protocolError?.(this.fn.name, message);
    this.sink.push({ kind: 'error', error: message });
  }

  /** Points emitted since the last call; the connection reports them in bulk, not per point. */
  takePointsOut(): number {
    const n = this.pointsOut;
    this.pointsOut = 0;
    return n;
  }

  private dispatch(req: Request): void {
    switch (req.kind) {
      case 'info':
        this.sink.push({
          kind: 'info',
          info: { wants: this.fn.edge, provides: this.fn.edge, options: infoOptions(this.fn.definition.options) },
        });
        return;
      case 'keepalive':
        this.sink.push({ kind: 'keepalive', time: req.time });
        return;
      case 'init':
        this.init(req.options, req.taskId, req.nodeId);
        return;
      case 'snapshot':
        this.snapshot();
        return;
      case 'restore':
        this.restore(req.snapshot);
        return;
      case 'point':
        this.point(req.point);
        return;
      case 'begin':
        this.begin(req.begin);
        return;
      case 'end':
        this.end(req.end);
        return;
    }
  }

  private init(options: InitOption[], taskId: string, nodeId: string): void {
    if (this.logic) throw new ProtocolError(`${this.fn.name}: Init received twice`);
    this.taskId = taskId;
    this.nodeId = nodeId;
    try {
      const parsed = parseOptions(this.fn.definition.options, options);
      this.logic = this.fn.definition.create(parsed);
      this.fingerprint = optionsFingerprint(parsed);
      const logic = this.logic;
      const newState = this.fn.edge === 'stream' ? () => logic.newState() : (): BatchGroup => ({ seen: null, state: logic.newState() });
      const stateBytes = logic.stateBytes?.bind(logic);
      const measure = stateBytes === undefined ? undefined : this.fn.edge === 'stream' ? stateBytes : (g: unknown) => 16 + stateBytes((g as BatchGroup).state);
      this.groups = new GroupStates<unknown>(newState, this.options.maxGroups ?? DEFAULT_MAX_GROUPS, this.memory, measure);
      const kept = this.options.persistence?.attach(this, options);
      if (kept) {
        try {
          this.groups.replaceAll(this.validGroups(kept.groups, kept.stateVersion));
        } catch (err) {
          // Over the memory bound: the task starts fresh rather than failing its Init.
          this.groups.replaceAll([]);
          this.options.log?.warn('state dir: the kept states do not fit the memory bound; the task starts fresh', {
            ...this.where,
            error: (err as Error).message,
          });
        }
      }
    } catch (err) {
      this.logic = null;
      const error = `${this.fn.name}: ${(err as Error).message}`;
      this.options.log?.warn('init failed', { function: this.fn.name, task: taskId, node: nodeId, error });
      this.options.observer?.init?.(this.fn.name, false, error);
      this.sink.push({ kind: 'init', success: false, error });
      return;
    }
    this.options.log?.info('task attached', { function: this.fn.name, task: taskId, node: nodeId });
    this.options.observer?.init?.(this.fn.name, true);
    this.sink.push({ kind: 'init', success: true, error: '' });
  }

  /** The fingerprint of the options of the last successful Init ('' before). */
  /** Who a log line is about. */
  private get where(): { function: string; task: string; node: string } {
    return { function: this.fn.name, task: this.taskId, node: this.nodeId };
  }

  get optionsFingerprint(): string {
    return this.fingerprint;
  }

  /** The version of the function's state shape (1 before Init). */
  get stateVersion(): number {
    return this.logic?.stateVersion ?? 1;
  }

  /** Inside BeginBatch … EndBatch. */
  get inBatch(): boolean {
    return this.batch !== null;
  }

  /** Every group and its state, oldest first (empty before Init). */
  stateEntries(): [string, unknown][] {
    return this.groups ? [...this.groups.entries()] : [];
  }

  private snapshot(): void {
    // Before Init there is nothing to keep; Kapacitor stores only non-empty snapshots.
    if (!this.groups) {
      this.sink.push({ kind: 'snapshot', snapshot: new Uint8Array(0) });
      return;
    }
    this.building = new SnapshotJob(this.groups.entries());
    this.continueSnapshot();
  }

  private restore(bytes: Uint8Array): void {
    const answer = (success: boolean, error = ''): void => {
      this.options.observer?.restore?.(this.fn.name, success, error || undefined);
      this.sink.push({ kind: 'restore', success, error });
    };
    if (!this.groups) return answer(false, `${this.fn.name}: Restore before a successful Init`);
    if (bytes.length === 0) return answer(true);
    const reading = readRestore(bytes, this.fn.name, this.fn.definition.name, this.fingerprint);
    if (reading.kind === 'refused') return answer(false, reading.error);
    if (reading.kind === 'other-options') {
      // The task was redefined with other options: the old state does not describe the new computation. Starting
      // fresh is what the operator wants; refusing would block the task on every restart.
      this.options.log?.warn('snapshot taken under other options; starting fresh', this.where);
      return answer(true);
    }
    const { contents } = reading;
    if (this.options.persistence?.admitRestore(this, contents.takenAt) === false) return answer(true);
    const groups = this.validGroups(contents.groups, contents.stateVersion ?? 1);
    try {
      this.groups.replaceAll(groups);
    } catch (err) {
      this.groups.replaceAll([]);
      return answer(false, `${this.fn.name}: ${(err as Error).message}`);
    }
    this.options.log?.info('state restored', { function: this.fn.name, task: this.taskId, groups: this.groups.size });
    answer(true);
  }

  /**
   * The snapshot's groups whose state fits the function (UdfLogic.restored throws for one that does not). A group
   * that does not fit starts fresh, and is logged: refusing the Restore would fail the task on every start, and
   * keeping the state would fail it at the group's first point.
   */
  private validGroups(entries: [string, unknown][], version: number): [string, unknown][] {
    const { groups, dropped, first } = fittingGroups(entries, this.fn.edge, this.logic as UdfLogic<unknown>, version);
    if (dropped > 0) {
      this.options.log?.warn('snapshot groups whose state does not fit the function start fresh', { ...this.where, groups: dropped, first });
    }
    return groups;
  }

  private ready(what: string): UdfLogic<unknown> {
    if (!this.logic) throw new ProtocolError(`${this.fn.name}: ${what} before a successful Init`);
    return this.logic;
  }

  private point(p: Point): void {
    const logic = this.ready('point');
    const groups = this.groups as GroupStates<unknown>;
    if (this.fn.edge === 'stream') {
      const state = groups.get(groupKey(p));
      logic.point(p, state, this.emitStream);
      groups.measureLast();
      return;
    }
    const batch = this.batch;
    if (!batch) throw new ProtocolError(`${this.fn.name}: batch point outside BeginBatch/EndBatch`);
    if (batch.seenBefore !== null && p.time <= batch.seenBefore) return;
    if (batch.group.seen === null || p.time > batch.group.seen) batch.group.seen = p.time;
    logic.point(p, batch.group.state, this.emitBatch);
    groups.measureLast();
  }

  private begin(b: BeginBatch): void {
    this.ready('BeginBatch');
    if (this.fn.edge === 'stream') {
      throw new ProtocolError(`${this.fn.name} is a stream function and got a BeginBatch: use ${this.fn.name}Batch`);
    }
    if (this.batch) throw new ProtocolError(`${this.fn.name}: BeginBatch inside an open batch`);
    const group = (this.groups as GroupStates<unknown>).get(b.group) as BatchGroup;
    this.batch = { begin: b, out: [], group, seenBefore: group.seen, bytes: 0 };
  }

  private end(e: EndBatch): void {
    this.ready('EndBatch');
    if (this.fn.edge === 'stream') {
      throw new ProtocolError(`${this.fn.name} is a stream function and got an EndBatch: use ${this.fn.name}Batch`);
    }
    const batch = this.batch;
    if (!batch) throw new ProtocolError(`${this.fn.name}: EndBatch without BeginBatch`);
    const end = { ...e, name: e.name || batch.begin.name, group: e.group || batch.begin.group, byName: batch.begin.byName };
    this.logic?.end?.(batch.group.state, this.emitBatch, end);
    this.batch = null;
    this.memory.add(-batch.bytes);
    // The output batch goes out whole: its size is known only now, and an EndBatch never leaves without its
    // BeginBatch (an orphan EndBatch crashes kapacitord).
    const { begin } = batch;
    this.sink.push({
      kind: 'begin',
      begin: { name: begin.name, group: begin.group, tags: begin.tags, size: BigInt(batch.out.length), byName: begin.byName },
    });
    for (const point of batch.out) this.sink.push({ kind: 'point', point });
    this.sink.push({
      kind: 'end',
      end,
    });
  }
}

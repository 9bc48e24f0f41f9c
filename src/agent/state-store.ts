/**
 * Group states that outlive their connection: `serve --state-dir DIR` keeps every (taskID, nodeID)'s states in
 * DIR/tasks/<task>/<node>/, so a task restarted by Kapacitor, or healed after a crash or an upgrade, continues from the
 * last point its sidecar answered instead of from Kapacitor's last snapshot (taken once a minute, never at stop).
 *
 * What is written is what came in, not what it made: every input chunk of a task's connection (after its Init frame)
 * is appended to a log segment with one write before the chunk's answers are written to the socket, so a process
 * crash loses no state whose answers have left, and the hot path serializes nothing. The state is rebuilt by running
 * the log through a session of the same function and options (the functions are deterministic in their input), from
 * a compacted base:
 *
 *   task.json   function, task, node, options fingerprint and Init options (written when the task is first seen)
 *   state.json  a line of JSON (which segment follows it, the answers to send again) then the states as a snapshot;
 *               replaced atomically (write a temporary file, fsync, rename, fsync the directory)
 *   log.<n>     records [type:1][length:4 LE][payload]: 'B' input bytes starting at a frame boundary, 'D' "the next
 *               Restore of this segment was not applied"; now and then a Keepalive that dates the records after it.
 *               A torn last record (a crash in mid-write) is ignored.
 *
 * Segments after the base are read in order, each with a fresh framer (a segment starts at a frame boundary and a
 * connection's last partial frame never completes). A segment grows until it passes `compactBytes` at a chunk end
 * that is between frames and batches; the session's states are then encoded (as for a Kapacitor snapshot), a new
 * segment begins, and the base is written in the background. When a connection closes its final states are kept in
 * memory and compacted, so the next Init of the task reads JSON, not the log. Its last answers go with them, to be
 * sent again by the next connection (answers-again.ts); after a crash the log's last seconds make them again. Open
 * segments are fsynced at most every `fsyncIntervalMs`, against a machine crash.
 *
 * Replaying a log is what an Init after a crash costs: the input since the last compaction (at most `compactBytes`,
 * 64 MiB by default) through the function again, on the event loop.
 *
 * A file that cannot be read is logged and its task's directory moved aside (`<node>.damaged-<time>`); the task starts
 * fresh. Init under other options (the task was redefined) removes the old states. A second connection with the same
 * task and node in this process (a `kapacitor replay` of a live task) is served without persistence.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { ServedFunction } from './handler.js';
import type { InitOption } from './messages.js';
import type { Session, SessionPersistence } from './session.js';
import { type Recovered, STATE_FORMAT, type TaskHeader, TaskState, toJson, writeAtomicSync } from './state-files.js';
import { readTaskDir } from './state-rebuild.js';

export const DEFAULT_COMPACT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_STATE_INTERVAL_MS = 1000;

export interface StateStoreOptions {
  dir: string;
  log?: Logger;
  fsyncIntervalMs?: number;
  compactBytes?: number;
}

/** A directory name for any task or node ID: no dot, no slash. */
const enc = (id: string) => encodeURIComponent(id).replace(/\./g, '%2E');
const dec = (name: string) => decodeURIComponent(name);

export class StateStore {
  private readonly claimed = new Map<string, TaskState>();
  /** Final states of connections that closed, until their base is written: the next Init takes them from here. */
  private readonly released = new Map<string, Recovered & { writing: Promise<void>; task: TaskState }>();
  private readonly timer: NodeJS.Timeout;
  readonly compactBytes: number;
  private closed = false;

  constructor(private readonly o: StateStoreOptions) {
    mkdirSync(path.join(o.dir, 'tasks'), { recursive: true });
    this.compactBytes = o.compactBytes ?? DEFAULT_COMPACT_BYTES;
    this.timer = setInterval(() => this.syncAll(), o.fsyncIntervalMs ?? DEFAULT_STATE_INTERVAL_MS);
    this.timer.unref();
  }

  get log(): Logger | undefined {
    return this.o.log;
  }

  dirOf(taskId: string, nodeId: string): string {
    return path.join(this.o.dir, 'tasks', enc(taskId), enc(nodeId));
  }

  /** The persistence of one connection's session: null until its Init names a task. */
  forConnection(): ConnectionState {
    return new ConnectionState(this);
  }

  /** Task IDs with states on disk. */
  taskIds(): string[] {
    return readdirSync(path.join(this.o.dir, 'tasks')).map(dec);
  }

  /** Whether a connection of this process holds the task's states now. */
  holds(taskId: string): boolean {
    for (const t of this.claimed.values()) if (t.taskId === taskId) return true;
    return false;
  }

  /** Removes a task's states (it was deleted from Kapacitor). Refused while a connection holds them. */
  async forget(taskId: string): Promise<boolean> {
    if (this.holds(taskId)) return false;
    for (const key of [...this.released.keys()]) if (key.startsWith(`${taskId}\0`)) this.released.delete(key);
    const taskDir = path.join(this.o.dir, 'tasks', enc(taskId));
    await Promise.all([...this.chains].filter(([dir]) => dir.startsWith(taskDir + path.sep)).map(([, p]) => p.catch(() => undefined)));
    if (this.holds(taskId)) return false;
    await rm(taskDir, { recursive: true, force: true });
    this.o.log?.info('state removed: the task is gone from Kapacitor', { task: taskId });
    return true;
  }

  /** @internal: claims (task, node) for a connection; false when another connection of this process has it. */
  claim(key: string, t: TaskState): boolean {
    if (this.claimed.has(key) || this.closed) return false;
    this.claimed.set(key, t);
    return true;
  }

  /** @internal */
  release(key: string, t: TaskState, final: { entries: [string, unknown][]; at: number; answers: Uint8Array | null } | null): void {
    if (this.claimed.get(key) !== t) return;
    this.claimed.delete(key);
    if (final === null) return;
    const writing = t.compactFinal(final.entries, final.at, final.answers).finally(() => {
      if (this.released.get(key)?.writing === writing) this.released.delete(key);
    });
    this.released.set(key, { ...final, nextSegment: t.nextSegment, writing, task: t });
  }

  /** @internal: the final states of a connection of this process that closed, if their base is not written yet. */
  takeReleased(key: string): (Recovered & { task: TaskState }) | undefined {
    const r = this.released.get(key);
    this.released.delete(key);
    return r;
  }

  private readonly chains = new Map<string, Promise<void>>();

  /** @internal: runs the jobs of one directory one after another. */
  serialize(dir: string, job: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(dir) ?? Promise.resolve()).then(job);
    this.chains.set(dir, next);
    void next.finally(() => {
      if (this.chains.get(dir) === next) this.chains.delete(dir);
    });
    return next;
  }

  private syncAll(): void {
    for (const t of this.claimed.values()) t.syncSoon();
  }

  /** Every open segment fsynced and closed, every pending base written. Connections must be over (or be dropped). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (const t of this.claimed.values()) t.syncNow();
    await Promise.all([...this.chains.values()].map((p) => p.catch(() => undefined)));
  }
}

/**
 * The persistence of one connection: attaches at Init (reading what the task has on disk), appends each chunk, cuts
 * segments, and at close leaves the final states to be compacted.
 */
export class ConnectionState implements SessionPersistence {
  private task: TaskState | null = null;
  private key = '';
  private ownAt = 0;
  private hadOwnState = false;
  private restoreSkipped = false;
  private session: Session | null = null;
  private answers: Uint8Array | null = null;

  constructor(private readonly store: StateStore) {}

  /** Appending: Init succeeded with a task this connection holds. */
  get logging(): boolean {
    return this.task !== null;
  }

  attach(session: Session, options: InitOption[]): { groups: [string, unknown][]; stateVersion: number } | null {
    const { taskId, nodeId } = session;
    if (taskId === '' || this.task !== null) return null;
    const key = `${taskId}\0${nodeId}`;
    const dir = this.store.dirOf(taskId, nodeId);
    const t = new TaskState(this.store, dir, taskId, nodeId, session.fn.name, session.stateVersion);
    const log = this.store.log;
    if (!this.store.claim(key, t)) {
      log?.warn('another connection holds this task node; this one is not persisted', { function: session.fn.name, task: taskId, node: nodeId });
      return null;
    }
    this.key = key;
    this.session = session;
    let recovered: Recovered | null = null;
    try {
      const fingerprint = session.optionsFingerprint;
      // A connection of this process that closed a moment ago hands its final states over: no log read again.
      const handed = this.store.takeReleased(key);
      recovered = readTaskDir(dir, session.fn, taskId, nodeId, fingerprint, options, log, handed);
      if (recovered === null) {
        // Redefined (or damaged): the closed connection's base, still being written, must not land in the new dir.
        handed?.task.cancel();
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        writeAtomicSync(path.join(dir, 'task.json'), toJson(taskHeader(session.fn, taskId, nodeId, fingerprint, options)));
      }
      t.begin(recovered?.nextSegment ?? 0);
    } catch (err) {
      this.store.release(key, t, null);
      this.key = '';
      log?.error('state dir not usable for this task; it is not persisted', { task: taskId, node: nodeId, error: (err as Error).message });
      return null;
    }
    this.task = t;
    if (recovered === null) return null;
    this.answers = recovered.answers;
    this.hadOwnState = true;
    this.ownAt = recovered.at;
    log?.info('state continued from the state dir', { function: session.fn.name, task: taskId, node: nodeId, groups: recovered.entries.length });
    // Rebuilt by a session of this build: in its states' version.
    return { groups: recovered.entries, stateVersion: session.stateVersion };
  }

  admitRestore(session: Session, takenAt: number | undefined): boolean {
    if (!this.hadOwnState) return true;
    const log = this.store.log;
    const meta = { function: session.fn.name, task: session.taskId, node: session.nodeId, snapshotAt: takenAt, stateDirAt: this.ownAt };
    if (takenAt !== undefined && takenAt > this.ownAt) {
      log?.info("Kapacitor's snapshot won: it is newer than the state dir's", meta);
      this.answers = null; // made from the states that lost
      return true;
    }
    log?.info(
      takenAt === undefined
        ? "the state dir's state won: Kapacitor's snapshot carries no time (an earlier build took it)"
        : "the state dir's state won: Kapacitor's snapshot is older (it snapshots only every snapshot-interval)",
      meta,
    );
    this.restoreSkipped = true;
    return false;
  }

  /** After a chunk was handled: its bytes from `from` reach the log before its answers are written. */
  afterChunk(chunk: Uint8Array, from: number, betweenFrames: boolean): void {
    const t = this.task;
    if (t === null) return;
    const skipped = this.restoreSkipped;
    this.restoreSkipped = false;
    try {
      t.append(chunk, from, skipped, betweenFrames);
      const s = this.session as Session;
      if (betweenFrames && !s.inBatch && t.wantsCompaction) t.cut(s.stateEntries());
    } catch (err) {
      this.store.log?.error('state dir write failed; this task is no longer persisted', { task: t.taskId, node: t.nodeId, error: (err as Error).message });
      this.release(null, false);
    }
  }

  /** After attach: the answers the task node's previous connection may not have delivered; taken once. */
  takeAnswers(): Uint8Array | null {
    const a = this.answers;
    this.answers = null;
    return a;
  }

  /** The connection closed: the final states are compacted (unless writing failed), with the answers to send again. */
  release(answers: Uint8Array | null = null, keep = true): void {
    const t = this.task;
    if (t === null) return;
    this.task = null;
    t.end();
    const s = this.session as Session;
    // Inside a batch the states hold points that were never answered: the next Init reads the log instead, which
    // leaves that batch out.
    this.store.release(this.key, t, keep && !s.inBatch ? { entries: s.stateEntries(), at: t.lastWrite || Date.now(), answers } : null);
  }
}

function taskHeader(fn: ServedFunction, task: string, node: string, options: string, init: InitOption[]): TaskHeader {
  return { format: STATE_FORMAT, version: 1, function: fn.name, task, node, options, init };
}

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
 *   state.json  a line of JSON (which segment follows it) then the states as a snapshot; replaced atomically
 *               (write a temporary file, fsync, rename, fsync the directory)
 *   log.<n>     records [type:1][length:4 LE][payload]: 'B' input bytes starting at a frame boundary, 'D' "the next
 *               Restore of this segment was not applied". A torn last record (a crash in mid-write) is ignored.
 *
 * Segments after the base are read in order, each with a fresh framer (a segment starts at a frame boundary and a
 * connection's last partial frame never completes). A segment grows until it passes `compactBytes` at a chunk end
 * that is between frames and batches; the session's states are then encoded (as for a Kapacitor snapshot), a new
 * segment begins, and the base is written in the background. When a connection closes its final states are kept in
 * memory and compacted, so the next Init of the task reads JSON, not the log. Open segments are fsynced at most every
 * `fsyncIntervalMs`, against a machine crash.
 *
 * Replaying a log is what an Init after a crash costs: the input since the last compaction (at most `compactBytes`,
 * 64 MiB by default) through the function again, on the event loop.
 *
 * A file that cannot be read is logged and its task's directory moved aside (`<node>.damaged-<time>`); the task starts
 * fresh. Init under other options (the task was redefined) removes the old states. A second connection with the same
 * task and node in this process (a `kapacitor replay` of a live task) is served without persistence.
 */
import {
  closeSync,
  existsSync,
  fsync as fsyncCallback,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writevSync,
} from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { decodeRequest } from './codec.js';
import { FrameDecoder } from './framer.js';
import type { ServedFunction } from './handler.js';
import type { InitOption, Response } from './messages.js';
import { readPointView } from './point-codec.js';
import { Session, type SessionPersistence } from './session.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import { SidecarError } from '../errors.js';

export const STATE_FORMAT = 'kapacitor-udf-sidecar/state';
export const DEFAULT_COMPACT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_STATE_INTERVAL_MS = 1000;

const REC_BYTES = 0x42; // 'B'
const REC_SKIPPED_RESTORE = 0x44; // 'D'
const REC_HEAD = 5;

/** A state file that cannot be read as written. */
export class StateFileError extends SidecarError {
  constructor(message: string, cause?: unknown) {
    super('UDF_STATE_FILE', message, { cause });
  }
}

export interface StateStoreOptions {
  dir: string;
  log?: Logger;
  fsyncIntervalMs?: number;
  compactBytes?: number;
}

interface TaskHeader {
  format: string;
  version: 1;
  function: string;
  task: string;
  node: string;
  options: string;
  init: unknown;
}

/** A directory name for any task or node ID: no dot, no slash. */
const enc = (id: string) => encodeURIComponent(id).replace(/\./g, '%2E');
const dec = (name: string) => decodeURIComponent(name);

/** bigints (int and duration options) as {"$bigint": "…"}, as in snapshots. */
const toJson = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? { $bigint: x.toString() } : x));
const fromJson = (s: string) => JSON.parse(s, (_k, x) => (x !== null && typeof x === 'object' && typeof x.$bigint === 'string' ? BigInt(x.$bigint) : x));

const nullSink = { push(_r: Response): void {} };

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
  release(key: string, t: TaskState, final: { entries: [string, unknown][]; at: number } | null): void {
    if (this.claimed.get(key) !== t) return;
    this.claimed.delete(key);
    if (final === null) return;
    const writing = t.compactFinal(final.entries, final.at).finally(() => {
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

/** What one (task, node) has on disk, read back. */
interface Recovered {
  entries: [string, unknown][];
  /** When the states were last written (ms since the epoch). */
  at: number;
  nextSegment: number;
}

/** One claimed (task, node): its open segment and its compactions. */
class TaskState {
  private fd = -1;
  private segment = 0;
  private segmentBytes = 0;
  private unsynced = false;
  private syncing = false;
  private compacting: Promise<void> | null = null;
  lastWrite = 0;
  readonly header = Buffer.alloc(REC_HEAD);

  constructor(
    private readonly store: StateStore,
    readonly dir: string,
    readonly taskId: string,
    readonly nodeId: string,
    private readonly fnName: string,
    /** The version of the function's state shape, written with every base. */
    private readonly stateVersion: number,
  ) {}

  /** Starts the segment after the ones on disk. */
  begin(nextSegment: number): void {
    this.segment = nextSegment;
    this.openSegment();
  }

  private openSegment(): void {
    this.fd = openSync(path.join(this.dir, `log.${this.segment}`), 'a');
    this.segmentBytes = 0;
  }

  /** Appends the chunk bytes from `from`, preceded by a "Restore not applied" mark when one is due: one write. */
  append(chunk: Uint8Array, from: number, skippedRestore: boolean): void {
    const n = chunk.length - from;
    if (n <= 0 && !skippedRestore) return;
    const parts: Uint8Array[] = [];
    if (skippedRestore) parts.push(Buffer.from([REC_SKIPPED_RESTORE, 0, 0, 0, 0]));
    if (n > 0) {
      const h = this.header;
      h[0] = REC_BYTES;
      h.writeUInt32LE(n, 1);
      parts.push(h, from === 0 ? chunk : chunk.subarray(from));
    }
    writevSync(this.fd, parts);
    this.segmentBytes += n + REC_HEAD;
    this.unsynced = true;
    this.lastWrite = Date.now();
  }

  get wantsCompaction(): boolean {
    return this.segmentBytes >= this.store.compactBytes && this.compacting === null;
  }

  /** Ends the segment at a frame boundary and writes the states it ends with as the new base, in the background. */
  cut(entries: [string, unknown][]): void {
    this.syncNow();
    closeSync(this.fd);
    this.segment++;
    this.openSegment();
    this.compacting = this.compact(entries, this.segment, Date.now()).finally(() => (this.compacting = null));
  }

  get nextSegment(): number {
    return this.segment + 1;
  }

  /** After end(): the final states, as the base of the segments after the last one. */
  compactFinal(entries: [string, unknown][], at: number): Promise<void> {
    return this.compact(entries, this.segment + 1, at);
  }

  /**
   * Writes `entries` as the base that segment `following` continues; removes the segments before it. One at a time
   * per task node, also across its connections: a base never replaces a newer one.
   */
  private compact(entries: [string, unknown][], following: number, at: number): Promise<void> {
    // Encoded now: the states go on changing while the file is written.
    const head = Buffer.from(`${JSON.stringify({ format: STATE_FORMAT, version: 1, segment: following, at })}\n`);
    const body = Buffer.concat([head, encodeSnapshot({ function: this.fnName, options: '', groups: entries, stateVersion: this.stateVersion })]);
    return this.store.serialize(this.dir, () => this.writeBase(body, following));
  }

  private cancelled = false;

  /** The directory now belongs to a task node started afresh: pending bases of this one are not written. */
  cancel(): void {
    this.cancelled = true;
  }

  private async writeBase(body: Buffer, following: number): Promise<void> {
    if (this.cancelled) return;
    const file = path.join(this.dir, 'state.json');
    const tmp = `${file}.tmp`;
    try {
      const h = await open(tmp, 'w');
      try {
        await h.writeFile(body);
        await h.sync();
      } finally {
        await h.close();
      }
      if (this.cancelled) {
        await rm(tmp, { force: true });
        return;
      }
      await rename(tmp, file);
      await fsyncDir(this.dir);
      for (const f of readdirSync(this.dir)) {
        const m = /^log\.(\d+)$/.exec(f);
        if (m && Number(m[1]) < following) await rm(path.join(this.dir, f), { force: true });
      }
    } catch (err) {
      // The previous base and every segment are still there: nothing is lost, the log is only longer.
      this.store.log?.warn('state compaction failed; the log is kept', { task: this.taskId, node: this.nodeId, error: (err as Error).message });
    }
  }

  syncSoon(): void {
    if (!this.unsynced || this.syncing || this.fd < 0) return;
    this.unsynced = false;
    this.syncing = true;
    const fd = this.fd;
    fsyncCallback(fd, () => (this.syncing = false));
  }

  syncNow(): void {
    if (this.fd < 0 || !this.unsynced) return;
    this.unsynced = false;
    try {
      fsyncSync(this.fd);
    } catch {
      // closed under us (connection gone): the data are in the file system already
    }
  }

  end(): void {
    if (this.fd < 0) return;
    this.syncNow();
    closeSync(this.fd);
    this.fd = -1;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } catch {
    // some file systems refuse fsync on a directory; the rename is still atomic
  } finally {
    await h.close();
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
      t.append(chunk, from, skipped);
      const s = this.session as Session;
      if (betweenFrames && !s.inBatch && t.wantsCompaction) t.cut(s.stateEntries());
    } catch (err) {
      this.store.log?.error('state dir write failed; this task is no longer persisted', { task: t.taskId, node: t.nodeId, error: (err as Error).message });
      this.release(false);
    }
  }

  /** The connection closed: the final states are compacted (unless writing failed). */
  release(keep = true): void {
    const t = this.task;
    if (t === null) return;
    this.task = null;
    t.end();
    const s = this.session as Session;
    // Inside a batch the states hold points that were never answered: the next Init reads the log instead, which
    // leaves that batch out.
    this.store.release(this.key, t, keep && !s.inBatch ? { entries: s.stateEntries(), at: t.lastWrite || Date.now() } : null);
  }
}

function taskHeader(fn: ServedFunction, task: string, node: string, options: string, init: InitOption[]): TaskHeader {
  return { format: STATE_FORMAT, version: 1, function: fn.name, task, node, options, init };
}

function writeAtomicSync(file: string, body: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, body);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/**
 * What a task node has on disk, rebuilt; null when nothing usable (none, redefined, or damaged — then moved aside).
 * Exported for tests.
 */
export function readTaskDir(
  dir: string,
  fn: ServedFunction,
  taskId: string,
  nodeId: string,
  fingerprint: string,
  options: InitOption[],
  log?: Logger,
  handed?: Recovered,
): Recovered | null {
  const headerFile = path.join(dir, 'task.json');
  if (!existsSync(headerFile)) return null;
  try {
    const header = fromJson(readFileSync(headerFile, 'utf8')) as TaskHeader;
    if (header.format !== STATE_FORMAT || header.version !== 1) throw new StateFileError(`${headerFile} is not a ${STATE_FORMAT} version 1 file`);
    if (header.function !== fn.name || header.options !== fingerprint) {
      log?.info('task redefined with other options: its old state is removed', { task: taskId, node: nodeId, function: fn.name });
      rmSync(dir, { recursive: true, force: true });
      return null;
    }
    if (handed) return handed;
    // A predecessor process may be compacting this directory right now (an upgrade): a file that vanished between
    // listing and reading is read again, not taken for damage.
    for (let attempt = 1; ; attempt++) {
      try {
        return rebuild(dir, fn, taskId, nodeId, options);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
      }
    }
  } catch (err) {
    const aside = `${dir}.damaged-${Date.now()}`;
    log?.error('state file damaged: moved aside, the task starts fresh', { task: taskId, node: nodeId, movedTo: aside, error: (err as Error).message });
    renameSync(dir, aside);
    return null;
  }
}

function rebuild(dir: string, fn: ServedFunction, taskId: string, nodeId: string, options: InitOption[]): Recovered {
  let base: [string, unknown][] = [];
  let baseVersion = 1;
  let first = 0;
  let at = 0;
  const stateFile = path.join(dir, 'state.json');
  if (existsSync(stateFile)) {
    const text = readFileSync(stateFile);
    const nl = text.indexOf(10);
    if (nl < 0) throw new StateFileError(`${stateFile} has no header line`);
    let head: { format?: string; segment?: unknown; at?: unknown };
    try {
      head = JSON.parse(text.subarray(0, nl).toString('utf8'));
    } catch (err) {
      throw new StateFileError(`${stateFile}: header is not JSON`, err);
    }
    if (head.format !== STATE_FORMAT || !Number.isSafeInteger(head.segment)) throw new StateFileError(`${stateFile}: not a ${STATE_FORMAT} base`);
    const snapshot = decodeSnapshot(text.subarray(nl + 1));
    base = snapshot.groups;
    baseVersion = snapshot.stateVersion ?? 1;
    first = head.segment as number;
    at = typeof head.at === 'number' ? head.at : statSync(stateFile).mtimeMs;
  }
  const segments = readdirSync(dir)
    .flatMap((f) => {
      const m = /^log\.(\d+)$/.exec(f);
      return m ? [Number(m[1])] : [];
    })
    .filter((n) => n >= first)
    .sort((a, b) => a - b);

  let skipNextRestore = false;
  const replay: SessionPersistence = {
    attach: () => ({ groups: base, stateVersion: baseVersion }),
    admitRestore: () => {
      const admit = !skipNextRestore;
      skipNextRestore = false;
      return admit;
    },
  };
  const session = new Session(fn, nullSink, { persistence: replay });
  session.handle({ kind: 'init', options, taskId, nodeId });
  if (session.failed || session.optionsFingerprint === '') throw new StateFileError(`the Init options in ${dir}/task.json are refused now`);
  for (const n of segments) {
    const file = path.join(dir, `log.${n}`);
    const bytes = readFileSync(file);
    at = Math.max(at, statSync(file).mtimeMs);
    const framer = new FrameDecoder();
    const openBatch: Uint8Array[] = []; // a segment's unfinished batch is dropped with it
    for (let i = 0; i + REC_HEAD <= bytes.length; ) {
      const type = bytes[i];
      const len = bytes.readUInt32LE(i + 1);
      const start = i + REC_HEAD;
      if (start + len > bytes.length) break; // torn tail: the write a crash interrupted
      if (type === REC_SKIPPED_RESTORE) skipNextRestore = true;
      else if (type === REC_BYTES) feed(session, framer, bytes.subarray(start, start + len), file, openBatch);
      else throw new StateFileError(`${file}: unknown record type ${type} at byte ${i}`);
      i = start + len;
    }
  }
  return { entries: session.stateEntries(), at, nextSegment: segments.length ? segments[segments.length - 1] + 1 : first };
}

/**
 * The connection's frame loop, answers discarded. A batch is applied only once its EndBatch is read: a batch whose end
 * never came (the connection died inside it) was never answered, and Kapacitor's next query brings its points again.
 */
function feed(session: Session, framer: FrameDecoder, bytes: Uint8Array, file: string, openBatch: Uint8Array[]): void {
  const apply = (frame: Uint8Array) => {
    if (session.failed) return;
    const point = readPointView(frame, 0, frame.length);
    if (point !== null) session.handlePoint(point);
    else session.handle(decodeRequest(frame));
  };
  framer.pushRanges(bytes, (buf, start, end) => {
    const frame = buf.subarray(start, end);
    if (session.fn.edge === 'stream') return apply(frame);
    if (openBatch.length > 0 || (readPointView(buf, start, end) === null && decodeRequest(frame).kind === 'begin')) {
      openBatch.push(frame);
      if (openBatch.length > 1 && readPointView(buf, start, end) === null && decodeRequest(frame).kind === 'end') {
        for (const f of openBatch.splice(0)) apply(f);
      }
      return;
    }
    apply(frame);
  });
  if (session.failed) throw new StateFileError(`${file}: the logged input no longer runs through ${session.fn.name}`);
}

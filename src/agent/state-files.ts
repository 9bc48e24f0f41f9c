/**
 * The files of one task node in the state dir (see state-store.ts for what they hold and why): the open log segment
 * and its records, the compacted base written beside it, and the atomic writes both need.
 *
 *   log.<n>     records [type:1][length:4 LE][payload]: 'B' input bytes starting at a frame boundary, 'D' "the next
 *               Restore of this segment was not applied". Between frames, once TIME_MARK_MS have passed since the
 *               last, a 'B' record of one KeepaliveRequest carrying the time dates the records after it, so that a
 *               crash's last answers can be told (state-rebuild.ts); any build replays it as the Keepalive it is
 *   state.json  a line of JSON {format, version, segment, at, answers?} then the states as a snapshot; `answers`:
 *               base64 of the answers to send again (answers-again.ts)
 *   task.json   {format, version, function, task, node, options, init}
 */
import { closeSync, fsync as fsyncCallback, fsyncSync, openSync, readdirSync, renameSync, writeFileSync, writevSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { SidecarError } from '../errors.js';
import { encodeRequest } from './codec.js';
import { encodeSnapshot } from './snapshot.js';

export const STATE_FORMAT = 'kapacitor-udf-sidecar/state';

export const REC_BYTES = 0x42; // 'B'
export const REC_SKIPPED_RESTORE = 0x44; // 'D'
export const REC_HEAD = 5;
/** How often the log is dated at most: finer than answers-again.ts's window needs. */
export const TIME_MARK_MS = 100;

/** A state file that cannot be read as written. */
export class StateFileError extends SidecarError {
  constructor(message: string, cause?: unknown) {
    super('UDF_STATE_FILE', message, { cause });
  }
}

export interface TaskHeader {
  format: string;
  version: 1;
  function: string;
  task: string;
  node: string;
  options: string;
  init: unknown;
}

/** bigints (int and duration options) as {"$bigint": "…"}, as in snapshots. */
export const toJson = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? { $bigint: x.toString() } : x));
export const fromJson = (s: string) => JSON.parse(s, (_k, x) => (x !== null && typeof x === 'object' && typeof x.$bigint === 'string' ? BigInt(x.$bigint) : x));

/** What one (task, node) has on disk, read back. */
export interface Recovered {
  entries: [string, unknown][];
  /** When the states were last written (ms since the epoch). */
  at: number;
  nextSegment: number;
  /** The answers to send again on the next connection (answers-again.ts). */
  answers: Uint8Array | null;
}

/** What a task node's files need of the store: its threshold, its log, and one queue of jobs per directory. */
export interface StateFilesHost {
  readonly compactBytes: number;
  readonly log: Logger | undefined;
  serialize(dir: string, job: () => Promise<void>): Promise<void>;
}

/** One claimed (task, node): its open segment and its compactions. */
export class TaskState {
  private fd = -1;
  private segment = 0;
  private segmentBytes = 0;
  private unsynced = false;
  private syncing = false;
  private compacting: Promise<void> | null = null;
  lastWrite = 0;
  private lastMark = 0;
  /** Whether the log ends between two frames: only there may a time mark go. */
  private betweenFrames = true;
  readonly header = Buffer.alloc(REC_HEAD);

  constructor(
    private readonly store: StateFilesHost,
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

  /**
   * Appends the chunk bytes from `from`, preceded by a time mark and a "Restore not applied" mark when they are due:
   * one write. `betweenFrames`: the chunk ends between two frames.
   */
  append(chunk: Uint8Array, from: number, skippedRestore: boolean, betweenFrames: boolean): void {
    const n = chunk.length - from;
    if (n <= 0 && !skippedRestore) return;
    const now = Date.now();
    const parts: Uint8Array[] = [];
    if (this.betweenFrames && now - this.lastMark >= TIME_MARK_MS) {
      this.lastMark = now;
      const mark = encodeRequest({ kind: 'keepalive', time: BigInt(now) * 1_000_000n });
      parts.push(Buffer.from([REC_BYTES, mark.length, 0, 0, 0]), mark);
      this.segmentBytes += REC_HEAD + mark.length;
    }
    if (n > 0) this.betweenFrames = betweenFrames;
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
    this.lastWrite = now;
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
  compactFinal(entries: [string, unknown][], at: number, answers: Uint8Array | null): Promise<void> {
    return this.compact(entries, this.segment + 1, at, answers);
  }

  /**
   * Writes `entries` as the base that segment `following` continues; removes the segments before it. One at a time
   * per task node, also across its connections: a base never replaces a newer one.
   */
  private compact(entries: [string, unknown][], following: number, at: number, answers: Uint8Array | null = null): Promise<void> {
    // Encoded now: the states go on changing while the file is written.
    const again = answers === null ? {} : { answers: Buffer.from(answers).toString('base64') };
    const head = Buffer.from(`${JSON.stringify({ format: STATE_FORMAT, version: 1, segment: following, at, ...again })}\n`);
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

export function writeAtomicSync(file: string, body: string): void {
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

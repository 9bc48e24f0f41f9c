/**
 * A session on a byte stream (a Unix socket, or stdin/stdout in process mode). The connection owns the I/O and nothing
 * else: bytes go through the framer and codec into the session, and the Responses it produces leave in as few writes
 * as the rules below allow. When a write is refused (the peer reads slower than we produce), reading pauses until the
 * output drains — backpressure all the way to Kapacitor.
 *
 * Kapacitor writes each point as two unbuffered writes (length, then message), so under its feeding one read brings
 * about one point. After such a small read the answers are not written at once: they wait for the AnswerPacer (see
 * pacer.ts), at most its hold, and leave together with the answers of the reads made meanwhile. They leave at once,
 * with everything held before them, when a read brought `holdAnswers` answers or 16 KiB or more (bulk input: one write
 * per read),
 * after any request that is not a point (a Keepalive's answer is never held: it is what Kapacitor's timeout watches),
 * after an error, and on input end or close.
 *
 * With a state dir the connection keeps its recent answers, and a task node's next connection sends them again before
 * its first answer to data (see answers-again.ts): Kapacitor drops what was in flight when it stopped the task.
 *
 * Endings: Kapacitor stops a task by half-closing its side and waiting for our EOF, so on input end we flush and end
 * our side. After an ErrorResponse we flush it and end the connection; a frame that cannot be decoded ends only this
 * connection.
 */
import type { Readable, Writable } from 'node:stream';
import { joinAnswers, RecentAnswers } from './answers-again.js';
import { RequestDecoder, ResponseWriter } from './codec.js';
import { DEFAULT_MAX_FRAME, FrameDecoder } from './framer.js';
import { AnswerPacer } from './pacer.js';
import type { ServedFunction } from './handler.js';
import { Session, type SessionOptions } from './session.js';
import type { ConnectionState, StateStore } from './state-store.js';

export interface ConnectionOptions extends SessionOptions {
  maxFrame?: number;
  /** Shared by the connections of one process (a server passes its own); by default the connection has its own. */
  pacer?: AnswerPacer;
  /** A read that brings this many answers or more writes them at once; 0: every read writes at once. */
  holdAnswers?: number;
  /** Keeps each task's states across connections (serve --state-dir). */
  stateStore?: StateStore;
}

export const DEFAULT_HOLD_ANSWERS = 256;
/** A read this big is written at once whatever it answers (bulk input, a batch's points). */
const BIG_READ = 16 * 1024;

export class UdfConnection {
  readonly session: Session;
  private readonly framer: FrameDecoder;
  private readonly decoder = new RequestDecoder();
  private readonly writer = new ResponseWriter(this.decoder);
  private ended = false;
  private readonly pacer: AnswerPacer;
  private readonly holdAnswers: number;
  /** True while the pacer has our release to call. */
  private waiting = false;
  /** Set while reading a chunk that held a request other than a point: its answers leave at once. */
  private urgent = false;
  private pointsIn = 0;
  /** Input not yet handed to the session: what came while a snapshot was being built. */
  private pendingInput: Buffer | null = null;
  /** The peer ended its side while input was waiting. */
  private inputEnded = false;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly persist: ConnectionState | null;
  /** The read being handled while the state log has not started: where in it logging starts (see onChunk). */
  private logChunk: Buffer | null = null;
  private logFrom = 0;
  private bodyMissing = 0;
  /** What this connection wrote lately (with a state dir). */
  private readonly recent: RecentAnswers | null;
  /** Until the first point or batch after a persisted Init: the task node's answers to send again are due. */
  private againDue = false;

  constructor(
    readonly fn: ServedFunction,
    private readonly input: Readable,
    private readonly output: Writable & { end(cb?: () => void): unknown },
    private readonly options: ConnectionOptions = {},
  ) {
    this.persist = options.stateStore?.forConnection() ?? null;
    this.recent = this.persist === null ? null : new RecentAnswers();
    this.session = new Session(fn, this.writer, this.persist === null ? options : { ...options, persistence: this.persist });
    this.framer = new FrameDecoder(options.maxFrame ?? DEFAULT_MAX_FRAME);
    this.pacer = options.pacer ?? new AnswerPacer();
    this.holdAnswers = options.holdAnswers ?? DEFAULT_HOLD_ANSWERS;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    void this.done.then(() => {
      this.session.release();
      // Answers never sent again are still due, before what this connection wrote.
      this.persist?.release(joinAnswers(this.persist.takeAnswers(), this.recent?.dataFrames() ?? null));
    });
    input.on('data', (chunk: Buffer) => this.onChunk(chunk));
    input.on('end', () => this.onInputEnd());
    input.on('error', (err) => this.onStreamError(err));
    if (output !== (input as unknown)) output.on('error', (err) => this.onStreamError(err));
    input.on('close', () => this.resolveDone());
    output.on('close', () => this.resolveDone());
  }

  /** Resolves once the connection is closed. */
  closed(): Promise<void> {
    return this.done;
  }

  /** Ends our side (server shutdown): what was produced is flushed first. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.flush();
    this.output.end(() => this.resolveDone());
  }

  /** Drops the connection without waiting for the peer (shutdown grace period over). */
  destroy(): void {
    this.ended = true;
    this.input.destroy();
    this.output.destroy();
    this.resolveDone();
  }

  private onChunk(chunk: Buffer): void {
    if (this.ended) return;
    if (this.pendingInput !== null) {
      // A snapshot is being built: the rest waits its turn, in order.
      this.pendingInput = Buffer.concat([this.pendingInput, chunk]);
      this.input.pause();
      return;
    }
    this.urgent = false;
    const persist = this.persist;
    if (persist !== null && !persist.logging) {
      // Persisted from the frame after Init on: where that frame ends in this chunk (a body that began in an earlier
      // chunk ends at the bytes it still needed). Only reads before logging starts pay for this.
      this.logChunk = chunk;
      this.logFrom = 0;
      this.bodyMissing = this.framer.bodyMissing;
    }
    let at = chunk.length;
    try {
      at = this.framer.pushRanges(chunk, this.onFrame);
    } catch (err) {
      this.session.fail(`${this.fn.name}: ${(err as Error).message}`);
    }
    this.decoder.release();
    if (this.session.failed) {
      this.end();
      return;
    }
    // The states this chunk changed reach the state dir before its answers leave (held or not). Behind a snapshot
    // request the rest of the chunk is not read yet: it is logged when it is (see buildSnapshot).
    if (persist !== null && persist.logging) {
      const read = at < chunk.length ? chunk.subarray(0, at) : chunk;
      persist.afterChunk(read, this.logChunk === chunk ? this.logFrom : 0, !this.framer.midFrame);
      this.logChunk = null;
    }
    if (this.session.busy) {
      this.flush();
      this.pendingInput = chunk.subarray(at);
      this.input.pause();
      setImmediate(() => this.buildSnapshot());
      return;
    }
    // A small read is paced even when it has nothing to answer yet (a prefix alone, a window still filling): the next
    // read then brings more. A big read means the peer writes faster than we read: nothing to wait for.
    const held = this.writer.pending;
    if (this.urgent || held >= this.holdAnswers || chunk.length >= BIG_READ) this.flush();
    else if (!this.waiting) {
      this.waiting = true;
      this.pacer.hold(this.release);
    }
  }

  /**
   * One step of a pending snapshot per turn of the event loop, so other connections are served between steps; once
   * it is answered and written, the input that waited is handled — after the peer has read the answer, when it is
   * slow, so that answers never pile up unwritten.
   */
  private buildSnapshot(): void {
    if (this.ended) return;
    if (!this.session.continueSnapshot()) {
      setImmediate(() => this.buildSnapshot());
      return;
    }
    this.flush();
    const go = (): void => {
      const rest = this.pendingInput as Buffer;
      this.pendingInput = null;
      if (rest.length > 0) this.onChunk(rest);
      if (this.pendingInput !== null || this.ended) return;
      if (this.inputEnded) this.onInputEnd();
      else this.input.resume();
    };
    if (this.output.writableNeedDrain) this.output.once('drain', go);
    else go();
  }

  /** A frame of the current read: points, nearly all the traffic, go to the session's point path. */
  private readonly onFrame = (buf: Uint8Array, start: number, end: number): void => {
    const session = this.session;
    if (session.failed) return;
    const req = this.decoder.decode(buf, start, end);
    if (req.kind === 'point') {
      if (this.againDue) this.sendAgain();
      this.pointsIn++;
      session.handlePoint(req.point);
      return;
    }
    this.urgent = true;
    if (req.kind === 'begin' && this.againDue) this.sendAgain();
    session.handle(req);
    if (req.kind === 'init') this.againDue = this.persist?.logging === true;
    const chunk = this.logChunk;
    if (chunk !== null && this.logFrom === 0 && this.persist?.logging) this.logFrom = buf === chunk ? end : this.bodyMissing;
    if (session.busy) this.framer.stop();
  };

  private sendAgain(): void {
    this.againDue = false;
    const again = (this.persist as ConnectionState).takeAnswers();
    if (again === null) return;
    this.writer.frames(again);
    this.options.log?.info('answers sent again: Kapacitor may have dropped them when the task stopped', {
      function: this.fn.name,
      task: this.session.taskId,
      node: this.session.nodeId,
      bytes: again.length,
    });
  }

  private readonly release = (): void => {
    this.waiting = false;
    if (!this.ended) this.flush();
  };

  /** Writes everything held, and reports the points in and out since the last write (not per read). */
  private flush(): void {
    const observer = this.options.observer;
    if (observer) {
      if (this.pointsIn) observer.pointsIn?.(this.fn.name, this.pointsIn);
      const out = this.session.takePointsOut();
      if (out) observer.pointsOut?.(this.fn.name, out);
    }
    this.pointsIn = 0;
    if (this.writer.pending === 0) return;
    const bytes = this.writer.take();
    this.recent?.add(bytes);
    const ok = this.output.write(bytes);
    if (!ok && !this.ended) {
      this.input.pause();
      this.output.once('drain', () => this.input.resume());
    }
  }

  private onInputEnd(): void {
    if (this.pendingInput !== null) {
      this.inputEnded = true;
      return;
    }
    if (this.framer.midFrame) {
      (this.options.badConnectionLog ?? this.options.log)?.warn('peer closed in the middle of a frame', { function: this.fn.name, task: this.session.taskId });
    }
    this.end();
  }

  private onStreamError(err: Error): void {
    (this.options.badConnectionLog ?? this.options.log)?.warn('connection error', { function: this.fn.name, task: this.session.taskId, error: err.message });
    this.destroy();
  }
}

/**
 * A session on a byte stream (a Unix socket, or stdin/stdout in process mode). The connection owns the I/O and nothing
 * else: bytes go through the framer and codec into the session; every Response the session produces while handling one
 * input chunk is encoded into one buffer and leaves in one write. When that write is refused (the peer reads slower
 * than we produce), reading pauses until the output drains — backpressure all the way to Kapacitor.
 *
 * Endings: Kapacitor stops a task by half-closing its side and waiting for our EOF, so on input end we flush and end
 * our side. After an ErrorResponse we flush it and end the connection; a frame that cannot be decoded ends only this
 * connection.
 */
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../log.js';
import { decodeRequest, ResponseWriter } from './codec.js';
import { DEFAULT_MAX_FRAME, FrameDecoder } from './framer.js';
import { readPointView } from './point-codec.js';
import type { ServedFunction } from './handler.js';
import { Session, type SessionObserver } from './session.js';
import type { ConnectionState, StateStore } from './state-store.js';

export interface ConnectionOptions {
  maxFrame?: number;
  maxGroups?: number;
  log?: Logger;
  observer?: SessionObserver;
  /** Keeps each task's states across connections (serve --state-dir). */
  stateStore?: StateStore;
}

export class UdfConnection {
  readonly session: Session;
  private readonly framer: FrameDecoder;
  private readonly writer = new ResponseWriter();
  private ended = false;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly persist: ConnectionState | null;

  constructor(
    readonly fn: ServedFunction,
    private readonly input: Readable,
    private readonly output: Writable & { end(cb?: () => void): unknown },
    private readonly options: ConnectionOptions = {},
  ) {
    this.persist = options.stateStore?.forConnection() ?? null;
    this.session = new Session(fn, this.writer, this.persist === null ? options : { ...options, persistence: this.persist });
    this.framer = new FrameDecoder(options.maxFrame ?? DEFAULT_MAX_FRAME);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if (this.persist !== null) void this.done.then(() => this.persist?.release());
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
    const session = this.session;
    let pointsIn = 0;
    // Persisted from the frame after Init on: where that frame ends in this chunk (a body that began in an earlier
    // chunk ends at the bytes it still needed).
    const persist = this.persist;
    const preInit = persist !== null && !persist.logging;
    const bodyMissing = preInit ? this.framer.bodyMissing : 0;
    let logFrom = 0;
    try {
      this.framer.pushRanges(chunk, (buf, start, end) => {
        if (session.failed) return;
        // Points, nearly all the traffic, skip the Request wrapper.
        const point = readPointView(buf, start, end);
        if (point !== null) {
          pointsIn++;
          session.handlePoint(point);
          return;
        }
        const req = decodeRequest(buf.subarray(start, end));
        if (req.kind === 'point') pointsIn++;
        session.handle(req);
        if (preInit && logFrom === 0 && persist.logging) logFrom = buf === chunk ? end : bodyMissing;
      });
    } catch (err) {
      session.fail(`${this.fn.name}: ${(err as Error).message}`);
    }
    const observer = this.options.observer;
    if (observer) {
      if (pointsIn) observer.pointsIn?.(this.fn.name, pointsIn);
      const out = session.takePointsOut();
      if (out) observer.pointsOut?.(this.fn.name, out);
    }
    // The states this chunk changed reach the state dir before its answers leave.
    if (persist !== null && persist.logging && !session.failed) persist.afterChunk(chunk, logFrom, !this.framer.midFrame);
    this.flush();
    if (session.failed) this.end();
  }

  private flush(): void {
    if (this.writer.pending === 0) return;
    const ok = this.output.write(this.writer.take());
    if (!ok && !this.ended) {
      this.input.pause();
      this.output.once('drain', () => this.input.resume());
    }
  }

  private onInputEnd(): void {
    if (this.framer.midFrame) {
      this.options.log?.warn('peer closed in the middle of a frame', { function: this.fn.name, task: this.session.taskId });
    }
    this.end();
  }

  private onStreamError(err: Error): void {
    this.options.log?.warn('connection error', { function: this.fn.name, task: this.session.taskId, error: err.message });
    this.destroy();
  }
}

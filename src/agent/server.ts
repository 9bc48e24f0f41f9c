/**
 * One Unix socket per function, all in one process. Each accepted connection gets its own session (Kapacitor opens one
 * per task node, plus one at its own start to ask Info).
 *
 * Socket paths (src/agent/socket-path.ts): each socket is bound under a temporary name and renamed over its path, so
 * the path is never missing, not even while a leftover one is replaced or another sidecar's is taken over. A leftover
 * socket is one whose connect is refused (ECONNREFUSED); any other answer (accepted, EAGAIN of a full backlog, a
 * timeout) is a live sidecar's, refused unless `takeover` is asked for. A regular file or a directory is refused, never
 * deleted. At close a socket is unlinked only while its path still names the socket this process bound (same device
 * and inode): one that another sidecar took over stays.
 */
import { chmod, lstat, rename, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../log.js';
import { type ConnectionOptions, UdfConnection } from './connection.js';
import { LogThrottle } from './log-throttle.js';
import { DEFAULT_MAX_MEMORY, MemoryBudget } from './memory.js';
import type { ServedFunction } from './handler.js';
import { AnswerPacer } from './pacer.js';
import { inspectSocketPath, SocketPathError } from './socket-path.js';

/** Defaults of the connection bounds (docs/operations.md lists them). */
export const DEFAULT_MAX_CONNECTIONS = 512;
export const DEFAULT_INIT_TIMEOUT_MS = 10_000;
export const DEFAULT_STOP_GRACE_MS = 5_000;

/** Why a connection was refused or dropped before its task could use it (the refused-connections counter's label). */
export type RefusalReason = 'limit' | 'idle' | 'crowded' | 'accept';

export interface ServerOptions extends ConnectionOptions {
  socketDir: string;
  /**
   * Connections open at once, all functions together; one more is closed at once. A quarter of them (at least one) is
   * kept for connections that have sent Init: a crowd that connects and never sends Init cannot keep a task out.
   */
  maxConnections?: number;
  /** A connection that has not sent a successful Init by then is closed (Kapacitor sends Init at once). */
  initTimeoutMs?: number;
  /** How long a stop waits for peers to close before dropping their connections; the stop never takes longer. */
  stopGraceMs?: number;
  /** Bytes all connections together may keep for their tasks (estimated): DEFAULT_MAX_MEMORY. */
  maxMemory?: number;
  /** Called for every connection refused or dropped before a successful Init. */
  onRefused?(fn: string, reason: RefusalReason): void;
  /** File mode of each socket; 0660 lets a kapacitor group member connect without opening it to everyone. */
  socketMode?: number;
  log?: Logger;
  /** Called for every accepted connection and again when it closes (for the connections gauge). */
  onConnection?(fn: string, delta: 1 | -1): void;
  /** Replace sockets a live sidecar listens on (an upgrade in place); without it they are refused. */
  takeover?: boolean;
}

export interface ListeningFunction {
  fn: ServedFunction;
  socketPath: string;
  server: net.Server;
  /** The socket this process bound, to tell it from one that replaced it. */
  dev: number;
  ino: number;
  /** It was another live process's before. */
  tookOver: boolean;
}

interface Accepted {
  conn: UdfConnection;
  socket: net.Socket;
  fn: ServedFunction;
  timer: NodeJS.Timeout | null;
}

export class UdfServer {
  readonly listening: ListeningFunction[] = [];
  /** Oldest first. A connection stays here until its socket is closed (not merely ended), so a stop can drop it. */
  private readonly connections = new Set<Accepted>();
  private readonly maxConnections: number;
  private readonly maxBeforeInit: number;
  private closing = false;
  /** One for all connections: a pacer's hold stops the whole process (see pacer.ts). */
  private readonly pacer = new AnswerPacer();
  /** What every connection keeps, together. */
  readonly memory: MemoryBudget;
  private readonly connectionOptions: ConnectionOptions;
  private readonly badConnectionLog: LogThrottle | undefined;

  constructor(
    private readonly functions: ServedFunction[],
    private readonly options: ServerOptions,
  ) {
    this.maxConnections = Math.max(1, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
    this.maxBeforeInit = Math.max(1, this.maxConnections - Math.max(1, Math.floor(this.maxConnections / 4)));
    this.memory = new MemoryBudget(options.maxMemory ?? DEFAULT_MAX_MEMORY);
    this.badConnectionLog = options.log ? new LogThrottle(options.log) : undefined;
    this.connectionOptions = {
      ...options,
      processMemory: this.memory,
      pacer: options.pacer ?? this.pacer,
      badConnectionLog: this.badConnectionLog,
    };
  }

  async listen(): Promise<void> {
    const { socketDir, socketMode = 0o660 } = this.options;
    try {
      for (const fn of this.functions) {
        const socketPath = path.join(socketDir, `${fn.name}.sock`);
        const found = await inspectSocketPath(socketPath);
        if (found === 'live' && !this.options.takeover) {
          throw new SocketPathError(
            `${socketPath} is in use by a running process (another sidecar?): stop it, or start with --takeover to replace it in place`,
          );
        }
        this.listening.push(await this.bind(fn, socketPath, socketMode, found === 'live'));
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Listens under a temporary name, then renames it over the path: the path never goes missing. */
  private async bind(fn: ServedFunction, socketPath: string, socketMode: number, tookOver: boolean): Promise<ListeningFunction> {
    const tmp = path.join(path.dirname(socketPath), `.${path.basename(socketPath)}.${process.pid}.tmp`);
    await unlink(tmp).catch(() => undefined); // ours by name: this pid's
    // allowHalfOpen: Kapacitor half-closes to stop a task and waits for our EOF after the last responses.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(fn, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Accept errors (EMFILE when out of descriptors) are emitted on the server: without a listener they would end
    // the process. An idle connection is dropped so that the next attempt can get a descriptor.
    server.on('error', (err) => this.acceptFailed(fn, err));
    try {
      await chmod(tmp, socketMode);
      await rename(tmp, socketPath);
    } catch (err) {
      server.close();
      throw err;
    }
    const st = await lstat(socketPath);
    return { fn, socketPath, server, dev: st.dev, ino: st.ino, tookOver };
  }

  /** Sockets whose path no longer names what this process bound (another sidecar took them over, or removed them). */
  async lostSockets(): Promise<ListeningFunction[]> {
    const lost: ListeningFunction[] = [];
    for (const l of this.listening) if (!(await this.owns(l))) lost.push(l);
    return lost;
  }

  /** Binds again, in place, a socket whose path was removed (a sidecar of an earlier build unlinks its path at exit). */
  async rebind(l: ListeningFunction): Promise<void> {
    const fresh = await this.bind(l.fn, l.socketPath, this.options.socketMode ?? 0o660, false);
    l.server.close();
    Object.assign(l, fresh);
  }

  private async owns(l: ListeningFunction): Promise<boolean> {
    try {
      const st = await lstat(l.socketPath);
      return st.dev === l.dev && st.ino === l.ino;
    } catch {
      return false;
    }
  }

  /** Stops accepting new connections; the open ones go on (an upgrade's drain). */
  async stopAccepting(): Promise<void> {
    await Promise.all(this.listening.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  private accept(fn: ServedFunction, socket: net.Socket): void {
    if (this.closing || this.connections.size >= this.maxConnections) {
      socket.destroy();
      this.refused(fn, 'limit');
      return;
    }
    let waiting = 0;
    let oldestWaiting: Accepted | undefined;
    for (const a of this.connections) {
      if (a.conn.session.initialized) continue;
      oldestWaiting ??= a;
      waiting++;
    }
    // The newest connection is more likely a task about to send Init than the oldest one that has not sent it yet.
    if (waiting >= this.maxBeforeInit && oldestWaiting !== undefined) this.drop(oldestWaiting, 'crowded');
    const conn = new UdfConnection(fn, socket, socket, this.connectionOptions);
    const accepted: Accepted = { conn, socket, fn, timer: null };
    const timeout = this.options.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS;
    accepted.timer = setTimeout(() => {
      accepted.timer = null;
      if (!conn.session.initialized) this.drop(accepted, 'idle');
    }, timeout).unref();
    this.connections.add(accepted);
    this.options.onConnection?.(fn.name, 1);
    socket.once('close', () => {
      if (accepted.timer !== null) clearTimeout(accepted.timer);
      this.connections.delete(accepted);
      this.options.onConnection?.(fn.name, -1);
    });
  }

  /** Tasks with a live connection that sent Init (a probe that never did is no task's). */
  liveTaskIds(): Set<string> {
    const ids = new Set<string>();
    for (const { conn } of this.connections) if (conn.session.initialized && !conn.session.failed) ids.add(conn.session.taskId);
    return ids;
  }

  private drop(a: Accepted, reason: RefusalReason): void {
    a.conn.destroy();
    this.refused(a.fn, reason);
  }

  private refused(fn: ServedFunction, reason: RefusalReason): void {
    this.options.onRefused?.(fn.name, reason);
    this.badConnectionLog?.warn('connection refused', { function: fn.name, reason, connections: this.connections.size });
  }

  private acceptFailed(fn: ServedFunction, err: Error): void {
    for (const a of this.connections) {
      if (!a.conn.session.initialized) {
        this.drop(a, 'crowded');
        break;
      }
    }
    this.options.onRefused?.(fn.name, 'accept');
    this.badConnectionLog?.warn('cannot accept a connection', { function: fn.name, error: err.message });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting, ends every connection (flushing what it produced) and removes the socket files still its own. Peers get the
   * grace period to close their side; then their connections are dropped. Never takes much longer than the grace
   * period, whatever the peers do.
   */
  async close(): Promise<void> {
    this.closing = true;
    const owned = await Promise.all(this.listening.map((l) => this.owns(l)));
    const closing = this.listening.map(({ server }) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())));
    const sockets = [...this.connections].map(
      ({ socket }) => new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve()))),
    );
    for (const { conn } of this.connections) conn.end();
    const grace = this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    const deadline = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
    await Promise.race([Promise.all(sockets), deadline(grace)]);
    for (const { conn } of this.connections) conn.destroy();
    // The servers' close callbacks come once their sockets are gone, which the drops above make immediate.
    await Promise.race([Promise.all(closing), deadline(100)]);
    // Only a socket still our own: after a takeover the path names the successor's.
    for (const [i, l] of this.listening.entries()) {
      if (owned[i] && (await this.owns(l))) await unlink(l.socketPath).catch(() => undefined);
    }
    this.listening.length = 0;
  }
}

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
import type { ServedFunction } from './handler.js';
import { AnswerPacer } from './pacer.js';
import { inspectSocketPath, SocketPathError } from './socket-path.js';

export interface ServerOptions extends ConnectionOptions {
  socketDir: string;
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

export class UdfServer {
  readonly listening: ListeningFunction[] = [];
  private readonly connections = new Set<UdfConnection>();
  /** One for all connections: a pacer's hold stops the whole process (see pacer.ts). */
  private readonly pacer = new AnswerPacer();

  constructor(
    private readonly functions: ServedFunction[],
    private readonly options: ServerOptions,
  ) {}

  async listen(): Promise<void> {
    const { socketDir, socketMode = 0o660 } = this.options;
    try {
      for (const fn of this.functions) {
        const socketPath = path.join(socketDir, `${fn.name}.sock`);
        const found = await inspectSocketPath(socketPath);
        if (found === 'live' && !this.options.takeover) {
          throw new SocketPathError(`${socketPath} is in use by a running process (another sidecar?): stop it, or start with --takeover to replace it in place`);
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
    const conn = new UdfConnection(fn, socket, socket, { ...this.options, pacer: this.options.pacer ?? this.pacer, log: this.options.log });
    this.connections.add(conn);
    this.options.onConnection?.(fn.name, 1);
    void conn.closed().then(() => {
      this.connections.delete(conn);
      this.options.onConnection?.(fn.name, -1);
    });
  }

  /** Tasks with a live connection that sent Init (a probe that never did is no task's). */
  liveTaskIds(): Set<string> {
    const ids = new Set<string>();
    for (const c of this.connections) if (c.session.attached && !c.session.failed) ids.add(c.session.taskId);
    return ids;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting, ends every connection (flushing what it produced) and removes the socket files still its own. */
  async close(): Promise<void> {
    const owned = await Promise.all(this.listening.map((l) => this.owns(l)));
    const closing = this.listening.map(
      ({ server }) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
    );
    for (const conn of this.connections) conn.end();
    await Promise.race([
      Promise.all([...this.connections].map((c) => c.closed())),
      new Promise((resolve) => setTimeout(resolve, 2000).unref()),
    ]);
    for (const conn of this.connections) conn.destroy();
    await Promise.all(closing);
    for (const [i, l] of this.listening.entries()) {
      if (owned[i] && (await this.owns(l))) await unlink(l.socketPath).catch(() => undefined);
    }
    this.listening.length = 0;
  }
}

/**
 * One Unix socket per function, all in one process. Each accepted connection gets its own session (Kapacitor opens one
 * per task node, plus one at its own start to ask Info).
 *
 * Socket paths: a leftover socket from a crashed run is replaced (nobody answers a connect on it); a socket somebody
 * is listening on, a regular file or a directory is refused with a clear error, never deleted.
 */
import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../log.js';
import { type ConnectionOptions, UdfConnection } from './connection.js';
import { SocketPathError } from './errors.js';
import type { ServedFunction } from './handler.js';
import { AnswerPacer } from './pacer.js';

export interface ServerOptions extends ConnectionOptions {
  socketDir: string;
  /** File mode of each socket; 0660 lets a kapacitor group member connect without opening it to everyone. */
  socketMode?: number;
  log?: Logger;
  /** Called for every accepted connection and again when it closes (for the connections gauge). */
  onConnection?(fn: string, delta: 1 | -1): void;
}

export interface ListeningFunction {
  fn: ServedFunction;
  socketPath: string;
  server: net.Server;
}

async function probe(socketPath: string): Promise<'listening' | 'stale'> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    c.once('connect', () => {
      c.destroy();
      resolve('listening');
    });
    c.once('error', () => resolve('stale'));
  });
}

/** Makes `socketPath` free to listen on, or explains why it must not be touched. */
export async function claimSocketPath(socketPath: string): Promise<void> {
  let st;
  try {
    st = await lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) {
    const what = st.isDirectory() ? 'a directory' : st.isFile() ? 'a regular file' : 'not a socket';
    throw new SocketPathError(`${socketPath} exists and is ${what}; refusing to replace it`);
  }
  if ((await probe(socketPath)) === 'listening') {
    throw new SocketPathError(`${socketPath} is in use by a running process (another sidecar?)`);
  }
  await unlink(socketPath);
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
        await claimSocketPath(socketPath);
        // allowHalfOpen: Kapacitor half-closes to stop a task and waits for our EOF after the last responses.
        const server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(fn, socket));
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(socketPath, () => {
            server.off('error', reject);
            resolve();
          });
        });
        this.listening.push({ fn, socketPath, server });
        await chmod(socketPath, socketMode);
      }
    } catch (err) {
      await this.close();
      throw err;
    }
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

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting, ends every connection (flushing what it produced) and removes the socket files. */
  async close(): Promise<void> {
    const closing = this.listening.map(
      ({ server }) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    for (const conn of this.connections) conn.end();
    await Promise.race([
      Promise.all([...this.connections].map((c) => c.closed())),
      new Promise((resolve) => setTimeout(resolve, 2000).unref()),
    ]);
    for (const conn of this.connections) conn.destroy();
    await Promise.all(closing);
    for (const { socketPath } of this.listening) {
      await unlink(socketPath).catch(() => undefined);
    }
    this.listening.length = 0;
  }
}

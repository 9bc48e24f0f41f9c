/**
 * Kapacitor's side of the protocol, small: connect to a function's socket, send Requests, read Responses. Drives the
 * sidecar in tests, the demo and the benchmark; real Kapacitor drives it in the integration tests.
 */
import net from 'node:net';
import { decodeResponse, encodeRequest } from './codec.js';
import { FrameDecoder } from './framer.js';
import type { Request, Response } from './messages.js';

export class UdfClient {
  private readonly framer = new FrameDecoder();
  private readonly queue: Response[] = [];
  private waiters: (() => void)[] = [];
  private closed = false;
  error: Error | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.framer.push(chunk, (f) => this.queue.push(decodeResponse(f)));
      this.wake();
    });
    socket.on('end', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', (err) => {
      this.error = err;
      this.closed = true;
      this.wake();
    });
  }

  static connect(socketPath: string): Promise<UdfClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ path: socketPath, allowHalfOpen: true });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new UdfClient(s));
      });
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Sends requests in one write. */
  send(...requests: Request[]): void {
    this.socket.write(Buffer.concat(requests.map(encodeRequest)));
  }

  /** Writes pre-encoded frames (the benchmark encodes once, up front). */
  sendRaw(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }

  /**
   * Resolves once `done()` holds, re-checked whenever data or the end arrives. `failed()` returns why it never will
   * (or null); `late()` the message for the timeout.
   */
  private async waitFor(done: () => boolean, failed: () => string | null, late: () => string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const why = failed();
      if (why) throw new Error(why);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(late());
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for `n` responses; rejects if the connection ends first. */
  async take(n: number, timeoutMs = 10_000): Promise<Response[]> {
    await this.waitFor(
      () => this.queue.length >= n,
      () => (this.closed ? `connection ended after ${this.queue.length} of ${n} responses` : null),
      () => `timed out after ${this.queue.length} of ${n} responses`,
      timeoutMs,
    );
    return this.queue.splice(0, n);
  }

  /** Responses received so far, without waiting. */
  drain(): Response[] {
    return this.queue.splice(0);
  }

  /** Resolves when the server has ended its side (returns what arrived before). */
  async ended(timeoutMs = 10_000): Promise<Response[]> {
    await this.waitFor(
      () => this.closed,
      () => null,
      () => 'server did not end the connection',
      timeoutMs,
    );
    return this.drain();
  }

  /** Half-closes like Kapacitor stopping a task, then waits for the server's EOF. */
  async finish(timeoutMs = 10_000): Promise<Response[]> {
    this.socket.end();
    return this.ended(timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

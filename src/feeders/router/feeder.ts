import { createHash } from 'node:crypto';
import { Client } from 'ssh2';
import { SidecarError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { retry } from '../../retry.js';
import { errorText, runEvery, type FeederCounters, type PointSink } from '../feeder.js';
import { nowNs, type FeedPoint } from '../point.js';
import { normaliseFingerprint, type RouterConfig, type RouterFeederConfig } from './config.js';
import { adslPoint, parseAdslStatus } from './parse.js';

/** Network errors worth a quick second try within the same poll; everything else waits for the next interval. */
const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE']);

/**
 * Runs `command` on the router over SSH and returns its stdout. The whole poll (connect, auth, command) has one
 * deadline; past it the connection is destroyed, so a hung router never blocks the next poll.
 */
export function runRemote(router: RouterConfig, command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = new Client();
    let out = '';
    /** The fingerprint the router showed, when it was not the configured one. */
    let refusedKey: string | undefined;
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.end();
      conn.destroy();
      if (err) reject(err);
      else resolve(out);
    };
    const timer = setTimeout(
      () => finish(new SidecarError('ROUTER_TIMEOUT', `${router.name}: no complete reply within ${timeoutMs} ms`, { retriable: true })),
      timeoutMs,
    );
    conn.on('error', (err: Error & { code?: string; level?: string }) => {
      if (refusedKey !== undefined) {
        const message =
          `${router.name} (${router.host}:${router.port}): presented host key SHA256:${refusedKey}, not the configured ` +
          `hostKeySha256 SHA256:${normaliseFingerprint(router.hostKeySha256!)}; if the router's key changed on purpose, put the new one in the config`;
        return finish(new SidecarError('ROUTER_HOST_KEY', message, { cause: err }));
      }
      const reason = err.level === 'client-authentication' ? 'authentication failed' : err.message;
      finish(
        new SidecarError('ROUTER_SSH', `${router.name} (${router.host}:${router.port}): ${reason}`, {
          retriable: err.code !== undefined && TRANSIENT.has(err.code),
          cause: err,
        }),
      );
    });
    conn.on('ready', () => {
      conn.exec(command, (err, stream) => {
        if (err) return finish(new SidecarError('ROUTER_SSH', `${router.name}: exec failed: ${err.message}`, { cause: err }));
        stream.on('data', (chunk: Buffer) => (out += chunk.toString('latin1')));
        stream.stderr.on('data', () => undefined);
        stream.on('close', () => finish());
      });
    });
    conn.connect({
      host: router.host,
      port: router.port,
      username: router.username,
      password: router.password,
      privateKey: router.privateKey,
      passphrase: router.passphrase,
      readyTimeout: timeoutMs,
      hostVerifier:
        router.hostKeySha256 === undefined
          ? undefined
          : (key: Buffer) => {
              if (hostKeyMatches(key, router.hostKeySha256!)) return true;
              refusedKey = hostKeyFingerprint(key);
              return false;
            },
    });
  });
}

/** As `ssh-keygen -l -E sha256` prints it, without the `SHA256:` prefix and the padding. */
export function hostKeyFingerprint(key: Buffer): string {
  return createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

export function hostKeyMatches(key: Buffer, expectedSha256: string): boolean {
  return hostKeyFingerprint(key) === normaliseFingerprint(expectedSha256);
}

export type PollOutcome = { ok: true; point: FeedPoint; skipped: string[] } | { ok: false; reason: 'garbled' | 'poll_failed'; detail: string };

export class RouterFeeder {
  constructor(
    private readonly config: RouterFeederConfig,
    private readonly sink: PointSink,
    readonly counters: FeederCounters,
    private readonly log: Logger,
  ) {}

  /** Each router has its own loop: one poll at a time per router, several routers at once. */
  async run(opts: { once: boolean; signal: AbortSignal }): Promise<void> {
    let answered = 0;
    await Promise.all(
      this.config.routers.map((router) =>
        runEvery({ name: `router ${router.name}`, intervalMs: this.config.intervalMs, once: opts.once, log: this.log, signal: opts.signal }, async () => {
          const outcome = await this.poll(router);
          if (outcome.ok || outcome.reason !== 'poll_failed') answered++;
          if (outcome.ok) this.sink.write([outcome.point]);
        }),
      ),
    );
    // A --once run in which every poll failed read nothing at all: a failed check, not an empty success. (A garbled
    // reply was read: it is counted and logged, like any bad source value.)
    if (opts.once && answered === 0 && !opts.signal.aborted) {
      throw new SidecarError(
        'ROUTER_NOTHING_READ',
        `every router poll failed (${this.config.routers.length} router(s)): nothing was read; the log above names each router and why`,
      );
    }
  }

  /** One poll: never throws; a failure or a garbled reply is counted and logged with the router's name. */
  async poll(router: RouterConfig): Promise<PollOutcome> {
    let output: string;
    try {
      output = await retry(() => runRemote(router, this.config.command, this.config.timeoutMs), {
        retries: 1,
        minDelayMs: 500,
        maxDelayMs: 500,
      });
    } catch (err) {
      this.counters.drop('poll_failed');
      this.log.warn('router poll failed', { router: router.name, error: errorText(err) });
      return { ok: false, reason: 'poll_failed', detail: errorText(err) };
    }
    this.counters.add('read');
    const parsed = parseAdslStatus(output);
    if (!parsed.ok) {
      this.counters.drop('garbled');
      this.log.warn('garbled router reply', { router: router.name, reason: parsed.reason, reply: JSON.stringify(output.slice(0, 200)) });
      return { ok: false, reason: 'garbled', detail: parsed.reason };
    }
    if (parsed.skipped.length > 0) this.log.warn('router reply had unreadable lines', { router: router.name, lines: parsed.skipped });
    return { ok: true, point: adslPoint(router.name, parsed, nowNs()), skipped: parsed.skipped };
  }
}

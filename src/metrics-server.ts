/**
 * The HTTP side of the metrics: `GET /metrics` is the Prometheus text format; `GET /healthz` (liveness) calls the
 * caller's health callback and answers 200 with its JSON when `ok` is true, 503 otherwise (also when the callback throws
 * or takes longer than 2 s, because an orchestrator's probe must get an answer rather than hang). `GET /readyz`
 * (readiness) does the same with the `ready` callback, or with `health` when there is none.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeSystemError, SidecarError } from './errors.js';
import type { Metrics } from './metrics.js';

export interface Health {
  ok: boolean;
  [detail: string]: unknown;
}

export interface MetricsServerOptions {
  metrics: Metrics;
  port: number;
  /** Loopback by default: exposing metrics beyond the host is a deliberate choice (0.0.0.0 in a container). */
  host?: string;
  /** Liveness: false means "restart me". */
  health: () => Health | Promise<Health>;
  /** Readiness: false means "working, but not doing its job right now". Default: `health`. */
  ready?: () => Health | Promise<Health>;
  healthTimeoutMs?: number;
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9273 — the real port when 0 was asked for. */
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { metrics, health } = options;
  const healthTimeoutMs = options.healthTimeoutMs ?? 2000;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      metrics.exposition().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
    } else if (path === '/healthz' || path === '/readyz') {
      probe(path === '/readyz' ? (options.ready ?? health) : health, healthTimeoutMs).then((h) =>
        res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h)),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz or /readyz\n');
    }
  });
  const where = `${options.host ?? '127.0.0.1'}:${options.port}`;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void =>
      reject(
        err.code === 'EADDRINUSE'
          ? new SidecarError('PORT_IN_USE', `metrics server: ${where} is in use: pick another --metrics-port, or stop what holds it`, { cause: err })
          : new SidecarError('LISTEN_FAILED', `metrics server: cannot listen on ${where}: ${describeSystemError(err) ?? err.message}`, { cause: err }),
      );
    server.once('error', onError);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function probe(health: MetricsServerOptions['health'], timeoutMs: number): Promise<Health> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Health>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `health check took longer than ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(health), timeout]);
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

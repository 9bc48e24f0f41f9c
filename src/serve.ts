/**
 * `udf-sidecar serve`: every function on its socket, metrics and health over HTTP, a periodic status line, and a clean
 * stop. The session observer is where the agent's instrumentation hooks meet the metrics recorders.
 */
import { mkdir } from 'node:fs/promises';
import type { ServedFunction } from './agent/handler.js';
import type { SessionObserver } from './agent/session.js';
import { UdfServer } from './agent/server.js';
import { describeSystemError, SidecarError } from './errors.js';
import type { Logger } from './log.js';
import { Metrics, startMetricsServer, startStatusLine, type MetricsServer } from './metrics.js';

export interface ServeOptions {
  functions: ServedFunction[];
  socketDir: string;
  socketMode: number;
  maxGroups: number;
  maxFrame: number;
  /** Serve /metrics and /healthz on this port (0: any free port); undefined: no HTTP server. */
  metricsPort?: number;
  metricsHost?: string;
  statusIntervalMs: number;
  log: Logger;
}

export interface RunningSidecar {
  server: UdfServer;
  metrics: Metrics;
  metricsServer: MetricsServer | null;
  close(): Promise<void>;
}

export function metricsObserver(metrics: Metrics): SessionObserver {
  return {
    init: (fn, ok) => {
      if (!ok) metrics.forFunction(fn).initFailed();
    },
    pointsIn: (fn, n) => metrics.forFunction(fn).pointsIn(n),
    pointsOut: (fn, n) => metrics.forFunction(fn).pointsOut(n),
    snapshot: (fn, bytes) => metrics.forFunction(fn).snapshot(bytes),
    protocolError: (fn) => metrics.forFunction(fn).error(),
  };
}

export async function serve(o: ServeOptions): Promise<RunningSidecar> {
  const metrics = new Metrics({ defaultMetrics: true });
  for (const fn of o.functions) metrics.forFunction(fn.name); // zeros before the first connection: absent != 0
  await mkdir(o.socketDir, { recursive: true }).catch((err: unknown) => {
    throw new SidecarError('PATH_INVALID', `--socket-dir ${describeSystemError(err) ?? (err as Error).message}`, { cause: err });
  });
  const server = new UdfServer(o.functions, {
    socketDir: o.socketDir,
    socketMode: o.socketMode,
    maxGroups: o.maxGroups,
    maxFrame: o.maxFrame,
    log: o.log,
    observer: metricsObserver(metrics),
    onConnection: (fn, delta) => (delta > 0 ? metrics.forFunction(fn).connectionOpened() : metrics.forFunction(fn).connectionClosed()),
  });
  await server.listen();
  let closing = false;
  let metricsServer: MetricsServer | null = null;
  try {
    if (o.metricsPort !== undefined) {
      metricsServer = await startMetricsServer({
        metrics,
        port: o.metricsPort,
        host: o.metricsHost,
        health: () => ({ ok: !closing && server.listening.length === o.functions.length, sockets: server.listening.length, connections: server.connectionCount }),
      });
    }
  } catch (err) {
    // A start that fails leaves nothing behind: the sockets it made would look like a sidecar that is not there.
    await server.close();
    throw err;
  }
  const status = startStatusLine({ metrics, logger: o.log, intervalMs: o.statusIntervalMs });
  o.log.info('ready', { sockets: server.listening.map((l) => l.socketPath), metrics: metricsServer?.url });
  return {
    server,
    metrics,
    metricsServer,
    async close() {
      closing = true;
      status.stop();
      await server.close();
      await metricsServer?.close();
    },
  };
}

/**
 * `udf-sidecar serve`: every function on its socket, metrics and health over HTTP, a periodic status line, and a clean
 * stop. The session observer is where the agent's instrumentation hooks meet the metrics recorders.
 */
import { mkdir } from 'node:fs/promises';
import type { ServedFunction } from './agent/handler.js';
import type { SessionObserver } from './agent/session.js';
import { UdfServer } from './agent/server.js';
import { StateStore } from './agent/state-store.js';
import { Healer } from './healer.js';
import { KapacitorClient } from './kapacitor/client.js';
import { DRAIN_SIGNAL, isAlive, looksLikeSidecar, notifySystemd, readPid, removeOwnPid, waitForExit, writePid } from './upgrade.js';
import { describeSystemError, SidecarError } from './errors.js';
import type { Logger } from './log.js';
import { Metrics, startStatusLine } from './metrics.js';
import { type MetricsServer, startMetricsServer } from './metrics-server.js';

export interface ServeOptions {
  functions: ServedFunction[];
  socketDir: string;
  socketMode: number;
  maxGroups: number;
  maxFrame: number;
  maxConnections?: number;
  initTimeoutMs?: number;
  maxMemory?: number;
  maxConnectionMemory?: number;
  /** Serve /metrics and /healthz on this port (0: any free port); undefined: no HTTP server. */
  metricsPort?: number;
  metricsHost?: string;
  statusIntervalMs: number;
  /** Keep each task's states here across connections and processes; null: only Kapacitor's snapshots. */
  stateDir: string | null;
  /** The state dir was not named (a failure to create it is then a warning). */
  stateDirIsDefault?: boolean;
  /** fsync of the state log at most this often. */
  stateIntervalMs: number;
  /** Heal Kapacitor's tasks through this API (restart those with no live connection); undefined: no healing. */
  kapacitorUrl?: string;
  healIntervalMs?: number;
  /** Take over the sockets of a live sidecar on the same socket dir, and tell it to drain. */
  takeover?: boolean;
  log: Logger;
}

export interface RunningSidecar {
  server: UdfServer;
  healer: Healer | null;
  metrics: Metrics;
  metricsServer: MetricsServer | null;
  close(): Promise<void>;
  /** Another sidecar took over: stop accepting, serve the open connections until they end (or the timeout), close. */
  drain(timeoutMs: number): Promise<void>;
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
  const stateStore = openStateStore(o);
  const server = new UdfServer(o.functions, {
    stateStore,
    socketDir: o.socketDir,
    socketMode: o.socketMode,
    maxGroups: o.maxGroups,
    maxFrame: o.maxFrame,
    takeover: o.takeover,
    log: o.log,
    observer: metricsObserver(metrics),
    maxConnections: o.maxConnections,
    maxMemory: o.maxMemory,
    maxConnectionMemory: o.maxConnectionMemory,
    initTimeoutMs: o.initTimeoutMs,
    onRefused: (fn, reason) => metrics.forFunction(fn).connectionRefused(reason),
    onConnection: (fn, delta) => (delta > 0 ? metrics.forFunction(fn).connectionOpened() : metrics.forFunction(fn).connectionClosed()),
  });
  let closing = false;
  let metricsServer: MetricsServer | null = null;
  try {
    // Before the sockets: a start that fails (a metrics port in use) then leaves nothing behind — no socket that would
    // look like a sidecar that is not there, no pid file, and a sidecar being taken over is never told to drain.
    if (o.metricsPort !== undefined) {
      metricsServer = await startMetricsServer({
        metrics,
        port: o.metricsPort,
        host: o.metricsHost,
        health: () => ({
          ok: !closing && server.listening.length === o.functions.length,
          sockets: server.listening.length,
          connections: server.connectionCount,
        }),
      });
    }
    await server.listen();
  } catch (err) {
    await metricsServer?.close();
    await stateStore?.close();
    throw err;
  }
  const previous = server.listening.some((l) => l.tookOver) ? readPid(o.socketDir) : null;
  writePid(o.socketDir);
  if (previous !== null && previous !== process.pid && isAlive(previous) && looksLikeSidecar(previous)) {
    process.kill(previous, DRAIN_SIGNAL);
    o.log.info('took the sockets over; the previous sidecar drains', { previous });
    void followPrevious(server, previous, o.log);
  }
  const status = startStatusLine({ metrics, logger: o.log, intervalMs: o.statusIntervalMs });
  const healer =
    o.kapacitorUrl === undefined
      ? null
      : new Healer({
          kapacitor: new KapacitorClient(o.kapacitorUrl),
          functions: o.functions.map((f) => f.name),
          liveTasks: () => server.liveTaskIds(),
          log: o.log,
          intervalMs: o.healIntervalMs ?? 10_000,
          onHealed: (task) => metrics.taskHealed(task),
          onFailed: (task) => metrics.taskHealFailed(task),
          storedTasks: stateStore && (() => stateStore.taskIds()),
          forgetTask: stateStore && ((task) => stateStore.forget(task)),
        });
  healer?.start();
  o.log.info('ready', { sockets: server.listening.map((l) => l.socketPath), metrics: metricsServer?.url, stateDir: o.stateDir });
  notifySystemd(o.log);
  const close = async () => {
    closing = true;
    status.stop();
    await healer?.stop();
    await server.close();
    await stateStore?.close();
    await metricsServer?.close();
    removeOwnPid(o.socketDir);
  };
  return {
    server,
    healer,
    metrics,
    metricsServer,
    close,
    async drain(timeoutMs) {
      const started = Date.now();
      await healer?.stop();
      await server.stopAccepting();
      while (server.connectionCount > 0 && Date.now() - started < timeoutMs) await new Promise((r) => setTimeout(r, 50));
      o.log.info('drained', { ms: Date.now() - started, connectionsLeft: server.connectionCount });
      await close();
    },
  };
}

/**
 * The state dir: one named with --state-dir must be usable (an error otherwise); the default one, beside the socket
 * dir, may not be creatable (a read-only parent): then the sidecar runs on Kapacitor's snapshots alone, and says so.
 */
function openStateStore(o: ServeOptions): StateStore | undefined {
  if (o.stateDir === null) return undefined;
  try {
    return new StateStore({ dir: o.stateDir, log: o.log, fsyncIntervalMs: o.stateIntervalMs });
  } catch (err) {
    if (!o.stateDirIsDefault) throw new StateDirError(o.stateDir, err as Error);
    o.log.warn('the default state dir cannot be used: no task states are kept across restarts (set --state-dir)', {
      stateDir: o.stateDir,
      error: (err as Error).message,
    });
    return undefined;
  }
}

class StateDirError extends SidecarError {
  constructor(dir: string, cause: Error) {
    super('STATE_DIR', `--state-dir ${dir}: ${cause.message}`, { cause });
  }
}

/** After a takeover: when the previous sidecar is gone, a socket it removed at exit (an earlier build did) is bound again. */
async function followPrevious(server: UdfServer, previous: number, log: Logger): Promise<void> {
  const started = Date.now();
  const exited = await waitForExit(previous, 10 * 60_000);
  log.info(exited ? 'the previous sidecar exited' : 'the previous sidecar is still running', { previous, ms: Date.now() - started });
  for (const l of await server.lostSockets()) {
    log.warn('a socket was removed by the previous sidecar; binding it again', { socket: l.socketPath });
    await server.rebind(l).catch((err: Error) => log.error('cannot bind the socket again', { socket: l.socketPath, error: err.message }));
  }
}

/**
 * Healing (`serve --kapacitor-url`): Kapacitor opens a socket UDF's connection once per task run and never again, so
 * when the sidecar dies or is upgraded its tasks keep reading `executing: true` and produce nothing. On start and then
 * every interval the healer lists Kapacitor's tasks, picks the enabled ones whose TICKscript calls one of our
 * functions and that have no live, Init'ed connection here, and restarts them one at a time through the client's
 * stop–wait–start (never a reload in one request: kapacitord 1.8.3 can panic on it).
 *
 * A task is picked only when it was also missing at the previous look, at least `confirmMs` earlier: a task that
 * Kapacitor (or `kapacitor sync`) is starting right now connects within milliseconds and is left alone. A restart that
 * does not bring a connection within `settleMs` is reported with Kapacitor's error and tried again after a delay that
 * doubles up to `maxBackoffMs`: never in a hot loop. Tasks deleted from Kapacitor lose their states in the state dir.
 */
import type { Logger } from './log.js';
import type { TaskScript } from './kapacitor/client.js';
import { udfCalls } from './kapacitor/tickscript.js';

/** What the healer needs of Kapacitor (KapacitorClient; a recording in tests). */
export interface HealTarget {
  listTaskScripts(): Promise<TaskScript[]>;
  restartTask(id: string): Promise<void>;
  taskError(id: string): Promise<string>;
}

export interface HealerOptions {
  kapacitor: HealTarget;
  /** Names of the served functions (edgeDetect, rateBatch, …). */
  functions: string[];
  /** Tasks with a live Init'ed connection now. */
  liveTasks(): Set<string>;
  log: Logger;
  intervalMs: number;
  confirmMs?: number;
  settleMs?: number;
  maxBackoffMs?: number;
  onHealed?(task: string, ms: number): void;
  onFailed?(task: string, error: string): void;
  /** Task IDs with states on disk, and how to remove them (state dir). */
  storedTasks?(): string[];
  forgetTask?(task: string): Promise<unknown>;
}

/** The enabled tasks that call one of `functions` and have no live connection: pure, for the heal loop and its tests. */
export function tasksToHeal(tasks: TaskScript[], functions: ReadonlySet<string>, live: ReadonlySet<string>): string[] {
  return tasks.filter((t) => t.status === 'enabled' && !live.has(t.id) && udfCalls(t.script).some((f) => functions.has(f))).map((t) => t.id);
}

interface Backoff {
  failures: number;
  nextAt: number;
}

export class Healer {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<unknown> | null = null;
  /** Missing at the last look, and since when. */
  private missing = new Map<string, number>();
  private readonly backoff = new Map<string, Backoff>();
  private readonly functions: Set<string>;

  constructor(private readonly o: HealerOptions) {
    this.functions = new Set(o.functions);
  }

  /** The first look now, the second after confirmMs, then every interval. */
  start(): void {
    const loop = (delay: number) => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.running = this.tick().finally(() => {
          this.running = null;
          loop(this.o.intervalMs);
        });
      }, delay);
      this.timer.unref();
    };
    this.running = this.tick().finally(() => {
      this.running = null;
      loop(this.o.confirmMs ?? 1000);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One look: returns the tasks restarted. */
  async tick(now = Date.now()): Promise<string[]> {
    let tasks: TaskScript[];
    try {
      tasks = await this.o.kapacitor.listTaskScripts();
    } catch (err) {
      this.o.log.warn('healing: cannot list Kapacitor tasks; trying again later', { error: (err as Error).message });
      return [];
    }
    await this.forgetDeleted(tasks);
    const candidates = tasksToHeal(tasks, this.functions, this.o.liveTasks());
    const confirm = this.o.confirmMs ?? 1000;
    const seenBefore = this.missing;
    this.missing = new Map(candidates.map((id) => [id, seenBefore.get(id) ?? now]));
    for (const id of this.backoff.keys()) if (!this.missing.has(id)) this.backoff.delete(id);
    const healed: string[] = [];
    for (const id of candidates) {
      if (this.stopped) break;
      const since = seenBefore.get(id);
      if (since === undefined || now - since < confirm) continue;
      const b = this.backoff.get(id);
      if (b && now < b.nextAt) continue;
      // Looked at again right before the restart: it may have connected while others were being restarted.
      if (this.o.liveTasks().has(id)) continue;
      if (await this.heal(id, now)) healed.push(id);
    }
    return healed;
  }

  private async heal(id: string, now: number): Promise<boolean> {
    const started = Date.now();
    this.o.log.info('healing: restarting a task that has no connection to the sidecar', { task: id });
    let error = '';
    try {
      await this.o.kapacitor.restartTask(id);
      const deadline = Date.now() + (this.o.settleMs ?? 5000);
      while (!this.o.liveTasks().has(id) && Date.now() < deadline && !this.stopped) await new Promise((r) => setTimeout(r, 50));
      if (this.o.liveTasks().has(id)) {
        const ms = Date.now() - started;
        this.backoff.delete(id);
        this.missing.delete(id);
        this.o.log.info('healing: task connected again', { task: id, ms });
        this.o.onHealed?.(id, ms);
        return true;
      }
      error = (await this.o.kapacitor.taskError(id).catch(() => '')) || 'no connection after the restart';
    } catch (err) {
      error = (err as Error).message;
    }
    const failures = (this.backoff.get(id)?.failures ?? 0) + 1;
    const delay = Math.min(this.o.intervalMs * 2 ** failures, this.o.maxBackoffMs ?? 300_000);
    this.backoff.set(id, { failures, nextAt: now + delay });
    this.o.log.warn('healing: task did not start again; retrying later', { task: id, error, failures, retryInMs: delay });
    this.o.onFailed?.(id, error);
    return false;
  }

  private async forgetDeleted(tasks: TaskScript[]): Promise<void> {
    if (!this.o.storedTasks || !this.o.forgetTask) return;
    const known = new Set(tasks.map((t) => t.id));
    for (const id of this.o.storedTasks()) if (!known.has(id)) await this.o.forgetTask(id);
  }
}

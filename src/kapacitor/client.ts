/**
 * Kapacitor's HTTP API (/kapacitor/v1), as much as `kapacitor sync` needs: list templates and tasks, apply a SyncPlan.
 * Scripts are read with `script-format=raw` so they compare byte for byte with the files.
 */
import { SidecarError } from '../errors.js';
import { sleep } from '../retry.js';
import type { Logger } from '../log.js';
import type { Dbrp, RemoteTask, RemoteTemplate, SyncPlan, TaskBefore, VarValue } from './plan.js';

export class KapacitorApiError extends SidecarError {
  constructor(
    what: string,
    detail: string,
    readonly status?: number,
    cause?: unknown,
  ) {
    super('KAPACITOR_API', `Kapacitor: ${what} failed: ${detail}`, { cause, retriable: status === undefined || status >= 500 });
  }
}

/** What a sync changed so far, kept so that a failure can put it all back (see rollback). */
interface Journal {
  /** Tasks that were enabled before the sync and that it stopped, changed or deleted: started again on rollback. */
  wasEnabled: Set<string>;
  /** Every task the sync stopped, started, created or changed. */
  touched: Set<string>;
  createdTemplates: string[];
  updatedTemplates: Map<string, { type: string; script: string }>;
  createdTasks: string[];
  updatedTasks: Map<string, TaskBefore>;
  deletedTasks: Map<string, TaskBefore>;
}

const PAGE = 100;

interface TaskJson {
  id: string;
  'template-id'?: string;
  type: 'stream' | 'batch';
  dbrps?: Dbrp[] | null;
  vars?: Record<string, VarValue> | null;
  status: 'enabled' | 'disabled';
  executing?: boolean;
  error?: string;
  script?: string;
}

export interface TaskScript {
  id: string;
  status: 'enabled' | 'disabled';
  executing: boolean;
  error: string;
  script: string;
}

export class KapacitorClient {
  private readonly base: string;

  constructor(
    url: string,
    private readonly timeoutMs = 10_000,
    /** How long a stopped task's old run is given to be over before the task is started again (see apply). */
    private readonly runEndGraceMs = 250,
  ) {
    this.base = url.replace(/\/+$/, '') + '/kapacitor/v1';
  }

  async listTemplates(): Promise<RemoteTemplate[]> {
    const all: RemoteTemplate[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.request<{ templates: RemoteTemplate[] }>(
        'listing templates',
        'GET',
        `/templates?script-format=raw&fields=type&fields=script&limit=${PAGE}&offset=${offset}`,
      );
      all.push(...page.templates.map((t) => ({ id: t.id, type: t.type, script: t.script })));
      if (page.templates.length < PAGE) return all;
    }
  }

  async listTasks(): Promise<RemoteTask[]> {
    const fields = ['type', 'template-id', 'dbrps', 'vars', 'status', 'executing', 'error'].map((f) => `fields=${f}`).join('&');
    const all: RemoteTask[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.request<{ tasks: TaskJson[] }>('listing tasks', 'GET', `/tasks?${fields}&limit=${PAGE}&offset=${offset}`);
      all.push(
        ...page.tasks.map((t) => ({
          id: t.id,
          templateID: t['template-id'] ?? '',
          type: t.type,
          dbrps: t.dbrps ?? [],
          vars: t.vars ?? {},
          status: t.status,
          executing: t.executing,
          error: t.error,
        })),
      );
      if (page.tasks.length < PAGE) return all;
    }
  }

  /** Every task with its TICKscript, status and whether Kapacitor says it runs (for healing). */
  async listTaskScripts(): Promise<TaskScript[]> {
    const fields = ['status', 'executing', 'error', 'script'].map((f) => `fields=${f}`).join('&');
    const all: TaskScript[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.request<{ tasks: TaskJson[] }>('listing tasks', 'GET', `/tasks?${fields}&script-format=raw&limit=${PAGE}&offset=${offset}`);
      all.push(...page.tasks.map((t) => ({ id: t.id, status: t.status, executing: t.executing ?? false, error: t.error ?? '', script: t.script ?? '' })));
      if (page.tasks.length < PAGE) return all;
    }
  }

  /** Stops a task, waits for its run to be over, starts it: never a reload in one request (see apply). */
  async restartTask(id: string): Promise<void> {
    await this.stopAll([id]);
    await this.setStatus(id, 'enabled');
  }

  /** A task's error as Kapacitor reports it ('' when none). */
  async taskError(id: string): Promise<string> {
    const t = await this.request<TaskJson>(`reading task ${id}`, 'GET', `/tasks/${encodeURIComponent(id)}?fields=error`);
    return t.error ?? '';
  }

  /**
   * Applies the whole plan or none of it: when a step fails, or a task it started does not run, every change made so
   * far is undone (rollback) and the error says whether Kapacitor is back as the sync found it.
   *
   * Templates first (tasks refer to them), deletions last. A running task is never stopped and started again in one
   * request. In Kapacitor 1.8.3 a stopped task whose UDF talks over a socket always ends with "stopping UDF server:
   * node aborted", and the goroutine that watched that run then stops the task *by its ID*: when the stop was half
   * of a reload (a template PATCH reloads every enabled task of the template; a task PATCH reloads a running task),
   * that ID is already the new run's, whose UDF node may not have opened its socket yet, and kapacitord dereferences
   * nil in udf.(*Server).Abort and exits. So every task a step would reload is stopped first, the old runs are given
   * time to end, and the tasks are started again by themselves; rollback follows the same order.
   */
  async apply(plan: SyncPlan, logger: Logger, settleMs = 2000): Promise<void> {
    const journal: Journal = {
      wasEnabled: new Set(),
      touched: new Set(),
      createdTemplates: [],
      updatedTemplates: new Map(),
      createdTasks: [],
      updatedTasks: new Map(),
      deletedTasks: new Map(),
    };
    try {
      await this.applyAll(plan, logger, settleMs, journal);
    } catch (err) {
      logger.warn('sync failed; undoing what it changed', { error: (err as Error).message });
      const problems = await this.rollback(journal, logger);
      const e = err as SidecarError;
      const outcome =
        problems.length === 0
          ? 'every change was undone, Kapacitor is as the sync found it'
          : `undoing failed (${problems.join('; ')}): Kapacitor is left part changed, run sync again`;
      throw new SidecarError(e.code ?? 'KAPACITOR_SYNC', `${e.message} (${outcome})`, { cause: err, retriable: e.retriable });
    }
  }

  private async applyAll(plan: SyncPlan, logger: Logger, settleMs: number, journal: Journal): Promise<void> {
    const updatedTemplates = new Set(plan.steps.flatMap((s) => (s.kind === 'update-template' ? [s.id] : [])));
    const runningOf = new Map<string, string[]>();
    if (updatedTemplates.size > 0) {
      for (const t of await this.listTasks()) {
        if (t.status !== 'enabled' || !updatedTemplates.has(t.templateID)) continue;
        runningOf.set(t.templateID, [...(runningOf.get(t.templateID) ?? []), t.id]);
      }
    }
    const stopped = new Set([...runningOf.values()].flat());
    for (const s of plan.steps) if (s.kind === 'update-task' && (s.before?.status ?? s.status) === 'enabled') stopped.add(s.id);
    // Journalled before they are stopped: rollback stops every touched task before it starts any, so one a failed
    // request left running is stopped and started again, never reloaded, and one it did stop is not left stopped.
    for (const id of stopped) {
      journal.wasEnabled.add(id);
      journal.touched.add(id);
    }
    await this.stopAll([...stopped]);
    const restarted = await this.applySteps(plan, logger, runningOf, journal);
    await this.deleteTasks(plan, logger, journal);
    await this.checkStarted(plan, restarted, settleMs);
  }

  /** The steps but deletions; returns the tasks restarted after their template changed. */
  private async applySteps(plan: SyncPlan, logger: Logger, runningOf: Map<string, string[]>, journal: Journal): Promise<string[]> {
    // Tasks that a later step defines anyway (an update gives the status) or deletes are not restarted here.
    const ownStep = new Set(plan.steps.flatMap((s) => (s.kind === 'update-task' || s.kind === 'delete-task' ? [s.id] : [])));
    const restarted: string[] = [];
    for (const s of plan.steps) {
      // Each change is journalled before it is asked for: a request that fails may still have been carried out
      // (Kapacitor stores a task and then answers 500 when it cannot start it).
      switch (s.kind) {
        case 'create-template':
          journal.createdTemplates.push(s.id);
          await this.request(`defining template ${s.id}`, 'POST', '/templates', { id: s.id, type: s.type, script: s.script });
          logger.info('template created', { template: s.id });
          break;
        case 'update-template': {
          const old =
            s.before ??
            (await this.request<{ type: string; script: string }>(
              `reading template ${s.id}`,
              'GET',
              `/templates/${encodeURIComponent(s.id)}?script-format=raw`,
            ));
          journal.updatedTemplates.set(s.id, { type: old.type, script: old.script });
          await this.request(`updating template ${s.id}`, 'PATCH', `/templates/${encodeURIComponent(s.id)}`, { type: s.type, script: s.script });
          logger.info('template updated', { template: s.id, changed: s.changed });
          for (const id of (runningOf.get(s.id) ?? []).filter((t) => !ownStep.has(t))) {
            await this.setStatus(id, 'enabled');
            restarted.push(id);
          }
          break;
        }
        case 'create-task':
          journal.createdTasks.push(s.id);
          journal.touched.add(s.id);
          await this.request(`creating task ${s.id}`, 'POST', '/tasks', {
            id: s.id,
            'template-id': s.templateID,
            dbrps: s.dbrps,
            vars: s.vars,
            status: s.status,
          });
          logger.info('task created', { task: s.id, template: s.templateID });
          break;
        case 'update-task':
          // Stopped above, so this starts it with the new definition: a task reloaded in place keeps reporting
          // `executing` even when its UDF refuses the new options, while a fresh start reports the refusal. Also the
          // only way to restart a task Kapacitor stopped but still lists as enabled.
          if (s.before) journal.updatedTasks.set(s.id, s.before);
          journal.touched.add(s.id);
          await this.request(`updating task ${s.id}`, 'PATCH', `/tasks/${encodeURIComponent(s.id)}`, {
            'template-id': s.templateID,
            dbrps: s.dbrps,
            vars: s.vars,
            status: s.status,
          });
          logger.info('task updated', { task: s.id, changed: s.changed });
          break;
        case 'keep-template':
        case 'keep-task':
        case 'delete-task':
          break;
      }
    }
    return restarted;
  }

  private async deleteTasks(plan: SyncPlan, logger: Logger, journal: Journal): Promise<void> {
    for (const s of plan.steps) {
      if (s.kind !== 'delete-task') continue;
      if (s.before) journal.deletedTasks.set(s.id, s.before);
      if (s.before?.status === 'enabled') journal.wasEnabled.add(s.id);
      await this.request(`deleting task ${s.id}`, 'DELETE', `/tasks/${encodeURIComponent(s.id)}`);
      logger.info('task deleted', { task: s.id, template: s.templateID });
    }
  }

  /**
   * Puts back what the journal says was changed, in the order that never reloads a running task: stop every task
   * the sync touched, wait, delete what it created, restore the old templates and task definitions (stopped),
   * recreate what it deleted, and start again, one by one, the tasks that were enabled. Returns what could not be
   * undone; a thing already gone (404) counts as undone.
   */
  private async rollback(journal: Journal, logger: Logger): Promise<string[]> {
    const problems: string[] = [];
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        if (err instanceof KapacitorApiError && err.status === 404) return;
        problems.push((err as Error).message);
      }
    };
    const path = (id: string) => `/tasks/${encodeURIComponent(id)}`;
    for (const id of journal.touched) await attempt(() => this.setStatus(id, 'disabled'));
    await sleep(this.runEndGraceMs);
    for (const id of journal.createdTasks) await attempt(() => this.request(`deleting task ${id}`, 'DELETE', path(id)));
    for (const [id, old] of journal.updatedTemplates) {
      await attempt(() => this.request(`restoring template ${id}`, 'PATCH', `/templates/${encodeURIComponent(id)}`, { type: old.type, script: old.script }));
    }
    for (const id of journal.createdTemplates) await attempt(() => this.request(`deleting template ${id}`, 'DELETE', `/templates/${encodeURIComponent(id)}`));
    for (const [id, old] of journal.updatedTasks) {
      await attempt(() =>
        this.request(`restoring task ${id}`, 'PATCH', path(id), { 'template-id': old.templateID, dbrps: old.dbrps, vars: old.vars, status: 'disabled' }),
      );
    }
    for (const [id, old] of journal.deletedTasks) {
      const definition = { 'template-id': old.templateID, dbrps: old.dbrps, vars: old.vars, status: 'disabled' };
      await attempt(async () => {
        // A deletion that failed may not have happened.
        const exists = await this.request(`reading task ${id}`, 'GET', `${path(id)}?fields=status`).then(
          () => true,
          (err: unknown) => {
            if (err instanceof KapacitorApiError && err.status === 404) return false;
            throw err;
          },
        );
        if (exists) await this.request(`restoring task ${id}`, 'PATCH', path(id), definition);
        else await this.request(`recreating task ${id}`, 'POST', '/tasks', { id, ...definition });
      });
    }
    for (const id of journal.wasEnabled) await attempt(() => this.setStatus(id, 'enabled'));
    if (problems.length === 0) logger.info('every change undone');
    else logger.error('not every change could be undone', { problems });
    return problems;
  }

  private async setStatus(id: string, status: 'enabled' | 'disabled'): Promise<void> {
    await this.request(`${status === 'enabled' ? 'starting' : 'stopping'} task ${id}`, 'PATCH', `/tasks/${encodeURIComponent(id)}`, { status });
  }

  /** Stops the tasks, then waits for their runs to be over (see apply). */
  private async stopAll(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    for (const id of ids) await this.setStatus(id, 'disabled');
    // The stop request returns once the run has stopped; the goroutine that watched it runs right after. Nothing in
    // the API tells when it is done (it saves the run's error only when there was one), so it gets a grace period,
    // thousands of times what it takes on an idle machine.
    await sleep(this.runEndGraceMs);
  }

  /**
   * Kapacitor answers a define or enable with success even when the task then fails to start: a UDF node opens its
   * connection and sends Init in the task's own goroutine, so a refused option or an absent socket only shows later,
   * as `executing: false` (the `error` text of a running task can be stale). Watch the tasks for `settleMs`.
   */
  private async checkStarted(plan: SyncPlan, restarted: string[], settleMs: number): Promise<void> {
    const ids = [...plan.steps.flatMap((s) => ((s.kind === 'create-task' || s.kind === 'update-task') && s.status === 'enabled' ? [s.id] : [])), ...restarted];
    if (ids.length === 0) return;
    const deadline = Date.now() + settleMs;
    for (;;) {
      const failed: string[] = [];
      const silent: string[] = [];
      for (const id of ids) {
        const t = await this.request<TaskJson>(`reading task ${id}`, 'GET', `/tasks/${encodeURIComponent(id)}?fields=executing&fields=error`);
        if (!t.executing) (t.error ? failed : silent).push(t.error ? `${id}: ${t.error}` : id);
      }
      // A task that stopped has its error set a moment later: wait for the reason until the deadline.
      const done = Date.now() >= deadline;
      if (failed.length > 0 || (silent.length > 0 && done)) {
        const all = [...failed, ...silent.map((id) => `${id}: not executing`)];
        throw new SidecarError('KAPACITOR_TASK_FAILED', `Kapacitor: task(s) did not start: ${all.join('; ')}`);
      }
      if (done) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async request<T>(what: string, method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new KapacitorApiError(
        what,
        `${this.base}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`,
        undefined,
        err,
      );
    }
    const text = await res.text();
    if (!res.ok) {
      let detail = text;
      try {
        detail = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new KapacitorApiError(what, `HTTP ${res.status}: ${detail}`, res.status);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}

/**
 * Kapacitor's HTTP API (/kapacitor/v1), as much as `kapacitor sync` needs: list templates and tasks, apply a SyncPlan.
 * Scripts are read with `script-format=raw` so they compare byte for byte with the files.
 */
import { SidecarError } from '../errors.js';
import type { Logger } from '../log.js';
import { type Dbrp, type RemoteTask, type RemoteTemplate, type SyncPlan, type VarValue } from './plan.js';

export class KapacitorApiError extends SidecarError {
  constructor(what: string, detail: string, status?: number, cause?: unknown) {
    super('KAPACITOR_API', `Kapacitor: ${what} failed: ${detail}`, { cause, retriable: status === undefined || status >= 500 });
  }
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
}

export class KapacitorClient {
  private readonly base: string;

  constructor(
    url: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.base = url.replace(/\/+$/, '') + '/kapacitor/v1';
  }

  async listTemplates(): Promise<RemoteTemplate[]> {
    const all: RemoteTemplate[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.request<{ templates: RemoteTemplate[] }>('listing templates', 'GET', `/templates?script-format=raw&fields=type&fields=script&limit=${PAGE}&offset=${offset}`);
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
        ...page.tasks.map((t) => ({ id: t.id, templateID: t['template-id'] ?? '', type: t.type, dbrps: t.dbrps ?? [], vars: t.vars ?? {}, status: t.status, executing: t.executing, error: t.error })),
      );
      if (page.tasks.length < PAGE) return all;
    }
  }

  /** Templates first (tasks refer to them), deletions last. */
  async apply(plan: SyncPlan, logger: Logger, settleMs = 2000): Promise<void> {
    for (const s of plan.steps) {
      switch (s.kind) {
        case 'create-template':
          await this.request(`defining template ${s.id}`, 'POST', '/templates', { id: s.id, type: s.type, script: s.script });
          logger.info('template created', { template: s.id });
          break;
        case 'update-template':
          // Kapacitor reloads every task of the template and reverts all of them if one fails: all or nothing.
          await this.request(`updating template ${s.id}`, 'PATCH', `/templates/${encodeURIComponent(s.id)}`, { type: s.type, script: s.script });
          logger.info('template updated', { template: s.id, changed: s.changed });
          break;
        case 'create-task':
          await this.request(`creating task ${s.id}`, 'POST', '/tasks', { id: s.id, 'template-id': s.templateID, dbrps: s.dbrps, vars: s.vars, status: s.status });
          logger.info('task created', { task: s.id, template: s.templateID });
          break;
        case 'update-task':
          // Stop, then start with the new definition: a task reloaded in place keeps reporting `executing` even when
          // its UDF refuses the new options, while a fresh start reports the refusal. Also the only way to restart a
          // task Kapacitor stopped but still lists as enabled.
          if (s.status === 'enabled') await this.request(`stopping task ${s.id}`, 'PATCH', `/tasks/${encodeURIComponent(s.id)}`, { status: 'disabled' });
          await this.request(`updating task ${s.id}`, 'PATCH', `/tasks/${encodeURIComponent(s.id)}`, { 'template-id': s.templateID, dbrps: s.dbrps, vars: s.vars, status: s.status });
          logger.info('task updated', { task: s.id, changed: s.changed });
          break;
        case 'keep-template':
        case 'keep-task':
        case 'delete-task':
          break;
      }
    }
    for (const s of plan.steps) {
      if (s.kind !== 'delete-task') continue;
      await this.request(`deleting task ${s.id}`, 'DELETE', `/tasks/${encodeURIComponent(s.id)}`);
      logger.info('task deleted', { task: s.id, template: s.templateID });
    }
    await this.checkStarted(plan, settleMs);
  }

  /**
   * Kapacitor answers a define or enable with success even when the task then fails to start: a UDF node opens its
   * connection and sends Init in the task's own goroutine, so a refused option or an absent socket only shows later,
   * as `executing: false` (the `error` text of a running task can be stale). Watch the tasks for `settleMs`.
   */
  private async checkStarted(plan: SyncPlan, settleMs: number): Promise<void> {
    const ids = plan.steps.flatMap((s) => ((s.kind === 'create-task' || s.kind === 'update-task') && s.status === 'enabled' ? [s.id] : []));
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
      throw new KapacitorApiError(what, `${this.base}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, undefined, err);
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

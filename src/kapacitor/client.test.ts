/**
 * The order of KapacitorClient.apply's requests, against a small recording endpoint that keeps task statuses and
 * template scripts the way Kapacitor does. That no running task is reloaded in one request is what keeps kapacitord
 * 1.8.3 alive (see apply); the real kapacitord runs the same plans in test/integration/kapacitor-sync.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { KapacitorClient } from './client.js';
import type { SyncPlan } from './plan.js';

interface Call {
  at: number;
  method: string;
  path: string;
  body: Record<string, unknown> | undefined;
}

interface FakeTask {
  id: string;
  'template-id': string;
  type: 'stream';
  status: 'enabled' | 'disabled';
  executing: boolean;
  vars?: Record<string, unknown>;
}

/**
 * Answers what apply asks; `refuseStart` names tasks whose start Kapacitor refuses under the script given, `fail`
 * makes a request fail with HTTP 500 after it was carried out (as Kapacitor does when a new task cannot start).
 */
async function kapacitorLike(
  tasks: FakeTask[],
  templates: Record<string, string>,
  refuseStart: (task: string, script: string) => boolean = () => false,
  fail: (method: string, path: string) => boolean = () => false,
) {
  const calls: Call[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString('utf8')));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname.replace('/kapacitor/v1', '');
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      calls.push({ at: performance.now(), method: req.method ?? '', path, body });
      const send = (status: number, json?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(json === undefined ? '' : JSON.stringify(json));
      };
      const [, kind, id] = path.split('/').map(decodeURIComponent);
      const task = tasks.find((t) => t.id === id);
      const answer = send;
      const done = (status: number, json?: unknown) => (fail(req.method ?? '', path) ? answer(500, { error: 'failed on purpose' }) : answer(status, json));
      if (kind === 'tasks' && id === undefined && req.method === 'POST') {
        if (templates[String(body?.['template-id'])] === undefined) return send(404, { error: 'no template' });
        tasks.push({
          id: String(body?.id),
          'template-id': String(body?.['template-id']),
          type: 'stream',
          status: body?.status as 'enabled',
          executing: body?.status === 'enabled',
          vars: body?.vars as Record<string, unknown>,
        });
        return done(200, body);
      }
      if (kind === 'tasks' && task && req.method === 'DELETE') {
        tasks.splice(tasks.indexOf(task), 1);
        return done(204);
      }
      if (kind === 'templates' && id !== undefined && req.method === 'DELETE') {
        if (templates[id] === undefined) return send(404, { error: 'no template' });
        delete templates[id];
        return done(204);
      }
      if (kind === 'tasks' && id === undefined && req.method === 'GET') {
        return send(200, { tasks: Number(url.searchParams.get('offset')) > 0 ? [] : tasks.map((t) => ({ ...t, dbrps: [], vars: {}, error: '' })) });
      }
      if (kind === 'tasks' && task && req.method === 'GET') return send(200, { ...task, error: '' });
      if (kind === 'tasks' && task && req.method === 'PATCH') {
        const status = (body?.status as 'enabled' | 'disabled' | undefined) ?? task.status;
        if (status === 'enabled' && refuseStart(task.id, templates[task['template-id']])) return send(400, { error: `task ${task.id} refused` });
        task.status = status;
        task.executing = status === 'enabled';
        if (body?.vars) task.vars = body.vars as Record<string, unknown>;
        if (body?.['template-id']) task['template-id'] = String(body['template-id']);
        return done(200, { ...task });
      }
      if (kind === 'templates' && id === undefined && req.method === 'POST') {
        templates[String(body?.id)] = String(body?.script);
        return done(200, body);
      }
      if (kind === 'templates' && id !== undefined && req.method === 'GET') return send(200, { id, type: 'stream', script: templates[id], vars: {} });
      if (kind === 'templates' && id !== undefined && req.method === 'PATCH') {
        templates[id] = String(body?.script);
        return done(200, { id, type: 'stream', script: templates[id] });
      }
      send(404, { error: `no route for ${req.method} ${path}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const log = createLogger('client-test', 'error');
const GRACE = 60;
const task = (id: string, template: string, status: 'enabled' | 'disabled' = 'enabled'): FakeTask => ({
  id,
  'template-id': template,
  type: 'stream',
  status,
  executing: status === 'enabled',
});
const describeCall = (c: Call) => `${c.method} ${c.path}${c.body?.status ? ` ${String(c.body.status)}` : ''}${c.body?.script ? ' script' : ''}`;

const plan: SyncPlan = {
  steps: [
    { kind: 'update-template', id: 'avg', type: 'stream', script: 'new', changed: ['script'] },
    { kind: 'keep-template', id: 'edge' },
    { kind: 'keep-task', id: 'avg.a' },
    { kind: 'update-task', id: 'avg.b', templateID: 'avg', dbrps: [{ db: 'b', rp: 'autogen' }], vars: {}, status: 'enabled', changed: ['vars'] },
    { kind: 'update-task', id: 'edge.a', templateID: 'edge', dbrps: [{ db: 'a', rp: 'autogen' }], vars: {}, status: 'enabled', changed: ['vars'] },
  ],
};

describe('KapacitorClient.apply', () => {
  it('stops every task a step would reload, waits, then changes the template and starts each task by itself', async () => {
    const k = await kapacitorLike([task('avg.a', 'avg'), task('avg.b', 'avg'), task('avg.off', 'avg', 'disabled'), task('edge.a', 'edge')], {
      avg: 'old',
      edge: 'e',
    });
    await new KapacitorClient(k.url, 5000, GRACE).apply(plan, log, 0);
    const changes = k.calls.filter((c) => c.method !== 'GET');
    expect(changes.map(describeCall)).toEqual([
      'PATCH /tasks/avg.a disabled',
      'PATCH /tasks/avg.b disabled',
      'PATCH /tasks/edge.a disabled',
      'PATCH /templates/avg script',
      'PATCH /tasks/avg.a enabled', // restarted by itself: its own step keeps it
      'PATCH /tasks/avg.b enabled', // its update starts it
      'PATCH /tasks/edge.a enabled',
    ]);
    // The old runs had the grace period to end before anything started again.
    expect(changes[3].at - changes[2].at).toBeGreaterThanOrEqual(GRACE - 5);
    // The disabled task of the template stays as it was, and every restarted task is checked for having started.
    expect(k.calls.some((c) => c.path === '/tasks/avg.off')).toBe(false);
    expect(
      k.calls
        .filter((c) => c.method === 'GET' && c.path.startsWith('/tasks/'))
        .map((c) => c.path)
        .sort(),
    ).toEqual(['/tasks/avg.a', '/tasks/avg.b', '/tasks/edge.a']);
  });

  it('puts the old script back and restarts the tasks under it when one cannot start under the new one (the rollback)', async () => {
    const templates = { avg: 'old', edge: 'e' };
    const k = await kapacitorLike([task('avg.a', 'avg'), task('avg.z', 'avg')], templates, (id, script) => id === 'avg.z' && script === 'new');
    const only: SyncPlan = { steps: [{ kind: 'update-template', id: 'avg', type: 'stream', script: 'new', changed: ['script'] }] };
    await expect(new KapacitorClient(k.url, 5000, GRACE).apply(only, log, 0)).rejects.toThrow(
      /starting task avg\.z failed: HTTP 400: task avg\.z refused \(every change was undone, Kapacitor is as the sync found it\)/,
    );
    expect(k.calls.filter((c) => c.method !== 'GET').map(describeCall)).toEqual([
      'PATCH /tasks/avg.a disabled',
      'PATCH /tasks/avg.z disabled',
      'PATCH /templates/avg script',
      'PATCH /tasks/avg.a enabled',
      'PATCH /tasks/avg.z enabled', // refused
      'PATCH /tasks/avg.a disabled',
      'PATCH /tasks/avg.z disabled',
      'PATCH /templates/avg script',
      'PATCH /tasks/avg.a enabled',
      'PATCH /tasks/avg.z enabled',
    ]);
    expect(templates.avg).toBe('old');
  });

  it('starts again, as they were, the tasks it stopped when a step fails before it got to them', async () => {
    const k = await kapacitorLike([task('avg.b', 'avg')], { avg: 'old' });
    const failing: SyncPlan = {
      steps: [
        { kind: 'create-task', id: 'nope', templateID: 'missing', dbrps: [{ db: 'x', rp: 'autogen' }], vars: {}, status: 'enabled' },
        { kind: 'update-task', id: 'avg.b', templateID: 'avg', dbrps: [{ db: 'b', rp: 'autogen' }], vars: {}, status: 'enabled', changed: ['vars'] },
      ],
    };
    await expect(new KapacitorClient(k.url, 5000, GRACE).apply(failing, log, 0)).rejects.toThrow(/creating task nope failed: HTTP 404/);
    expect(k.calls.filter((c) => c.method !== 'GET').map(describeCall)).toEqual([
      'PATCH /tasks/avg.b disabled',
      'POST /tasks enabled', // refused: no template
      'PATCH /tasks/avg.b disabled',
      'PATCH /tasks/nope disabled', // not there: nothing to undo
      'DELETE /tasks/nope',
      'PATCH /tasks/avg.b enabled',
    ]);
  });

  it('reloads nothing it does not have to: a plan of new definitions only stops no task', async () => {
    const k = await kapacitorLike([task('avg.a', 'avg')], { avg: 'old' });
    const fresh: SyncPlan = {
      steps: [
        { kind: 'create-template', id: 'n', type: 'stream', script: 's' },
        { kind: 'keep-task', id: 'avg.a' },
      ],
    };
    await new KapacitorClient(k.url, 5000, GRACE).apply(fresh, log, 0);
    expect(k.calls.map(describeCall)).toEqual(['POST /templates script']);
  });

  it('applies all of a plan or none: a failure at the last step puts every template and task back as it was', async () => {
    const templates: Record<string, string> = { avg: 'old', edge: 'e' };
    const before = [
      { ...task('avg.a', 'avg'), vars: { size: 3 } },
      { ...task('edge.a', 'edge'), vars: { field: 'v' } },
      { ...task('edge.old', 'edge'), vars: {} },
      { ...task('edge.off', 'edge', 'disabled'), vars: {} },
    ];
    const tasks = structuredClone(before);
    const was = (id: string) => ({
      templateID: before.find((t) => t.id === id)!['template-id'],
      dbrps: [],
      vars: before.find((t) => t.id === id)!.vars as never,
      status: before.find((t) => t.id === id)!.status,
    });
    const all: SyncPlan = {
      steps: [
        { kind: 'update-template', id: 'avg', type: 'stream', script: 'new', changed: ['script'], before: { type: 'stream', script: 'old' } },
        { kind: 'create-template', id: 'rate', type: 'stream', script: 'r' },
        { kind: 'create-task', id: 'rate.a', templateID: 'rate', dbrps: [{ db: 'a', rp: 'autogen' }], vars: {}, status: 'enabled' },
        {
          kind: 'update-task',
          id: 'edge.a',
          templateID: 'edge',
          dbrps: [{ db: 'a', rp: 'autogen' }],
          vars: { field: { type: 'string', value: 'w' } },
          status: 'enabled',
          changed: ['vars'],
          before: was('edge.a'),
        },
        {
          kind: 'update-task',
          id: 'edge.off',
          templateID: 'edge',
          dbrps: [{ db: 'a', rp: 'autogen' }],
          vars: {},
          status: 'enabled',
          changed: ['status'],
          before: was('edge.off'),
        },
        { kind: 'delete-task', id: 'edge.old', templateID: 'edge', before: was('edge.old') },
        { kind: 'delete-task', id: 'avg.a', templateID: 'avg', before: was('avg.a') },
      ],
    };
    // The second deletion fails after it was carried out: Kapacitor's state then has nothing of the plan's start.
    const k = await kapacitorLike(
      tasks,
      templates,
      () => false,
      (method, path) => method === 'DELETE' && path === '/tasks/avg.a',
    );
    await expect(new KapacitorClient(k.url, 5000, GRACE).apply(all, log, 0)).rejects.toThrow(
      /deleting task avg\.a failed: HTTP 500: failed on purpose \(every change was undone/,
    );
    expect(templates).toEqual({ avg: 'old', edge: 'e' });
    const state = (l: FakeTask[]) => l.map((t) => [t.id, t['template-id'], t.status, t.vars]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(state(tasks)).toEqual(state(before));
    // Undone in the order that reloads no running task: everything stopped before anything is put back.
    const changes = k.calls.filter((c) => c.method !== 'GET').map(describeCall);
    const undo = changes.slice(changes.indexOf('DELETE /tasks/avg.a') + 1);
    const firstRestore = undo.findIndex((c) => !c.endsWith(' disabled'));
    expect(undo.slice(firstRestore).filter((c) => c.endsWith(' enabled'))).toEqual(undo.slice(-3));
    expect(undo.slice(-3).sort()).toEqual(['PATCH /tasks/avg.a enabled', 'PATCH /tasks/edge.a enabled', 'PATCH /tasks/edge.old enabled']);
  });

  it('undoes the tasks it started when one of them does not run (Kapacitor stored it and answered 500)', async () => {
    const templates: Record<string, string> = { avg: 'old' };
    const tasks: FakeTask[] = [];
    const k = await kapacitorLike(
      tasks,
      templates,
      () => false,
      (method, path) => method === 'POST' && path === '/tasks',
    );
    const fresh: SyncPlan = {
      steps: [
        { kind: 'create-template', id: 'rate', type: 'stream', script: 'r' },
        { kind: 'create-task', id: 'rate.a', templateID: 'rate', dbrps: [{ db: 'a', rp: 'autogen' }], vars: {}, status: 'enabled' },
      ],
    };
    await expect(new KapacitorClient(k.url, 5000, GRACE).apply(fresh, log, 0)).rejects.toThrow(/creating task rate\.a failed: HTTP 500/);
    expect(tasks).toEqual([]);
    expect(templates).toEqual({ avg: 'old' });
  });
});

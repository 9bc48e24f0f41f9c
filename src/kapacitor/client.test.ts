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
}

/** Answers what apply asks; `refuseStart` names tasks whose start Kapacitor refuses under the script given. */
async function kapacitorLike(tasks: FakeTask[], templates: Record<string, string>, refuseStart: (task: string, script: string) => boolean = () => false) {
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
      if (kind === 'tasks' && id === undefined && req.method === 'GET') {
        return send(200, { tasks: Number(url.searchParams.get('offset')) > 0 ? [] : tasks.map((t) => ({ ...t, dbrps: [], vars: {}, error: '' })) });
      }
      if (kind === 'tasks' && task && req.method === 'GET') return send(200, { ...task, error: '' });
      if (kind === 'tasks' && task && req.method === 'PATCH') {
        const status = (body?.status as 'enabled' | 'disabled' | undefined) ?? task.status;
        if (status === 'enabled' && refuseStart(task.id, templates[task['template-id']])) return send(400, { error: `task ${task.id} refused` });
        task.status = status;
        task.executing = status === 'enabled';
        return send(200, { ...task });
      }
      if (kind === 'templates' && id === undefined && req.method === 'POST') {
        templates[String(body?.id)] = String(body?.script);
        return send(200, body);
      }
      if (kind === 'templates' && id !== undefined && req.method === 'GET') return send(200, { id, type: 'stream', script: templates[id], vars: {} });
      if (kind === 'templates' && id !== undefined && req.method === 'PATCH') {
        templates[id] = String(body?.script);
        return send(200, { id, type: 'stream', script: templates[id] });
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
const task = (id: string, template: string, status: 'enabled' | 'disabled' = 'enabled'): FakeTask => ({ id, 'template-id': template, type: 'stream', status, executing: status === 'enabled' });
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
    const k = await kapacitorLike([task('avg.a', 'avg'), task('avg.b', 'avg'), task('avg.off', 'avg', 'disabled'), task('edge.a', 'edge')], { avg: 'old', edge: 'e' });
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
    expect(k.calls.filter((c) => c.method === 'GET' && c.path.startsWith('/tasks/')).map((c) => c.path).sort()).toEqual(['/tasks/avg.a', '/tasks/avg.b', '/tasks/edge.a']);
  });

  it('puts the old script back and restarts the tasks under it when one cannot start under the new one', async () => {
    const templates = { avg: 'old', edge: 'e' };
    const k = await kapacitorLike([task('avg.a', 'avg'), task('avg.z', 'avg')], templates, (id, script) => id === 'avg.z' && script === 'new');
    const only: SyncPlan = { steps: [{ kind: 'update-template', id: 'avg', type: 'stream', script: 'new', changed: ['script'] }] };
    await expect(new KapacitorClient(k.url, 5000, GRACE).apply(only, log, 0)).rejects.toThrow(/starting task avg\.z failed: HTTP 400: task avg\.z refused/);
    expect(k.calls.filter((c) => c.method !== 'GET').map(describeCall)).toEqual([
      'PATCH /tasks/avg.a disabled',
      'PATCH /tasks/avg.z disabled',
      'PATCH /templates/avg script',
      'PATCH /tasks/avg.a enabled',
      'PATCH /tasks/avg.z enabled', // refused
      'PATCH /tasks/avg.a disabled',
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
    expect(k.calls.filter((c) => c.method !== 'GET').map(describeCall)).toEqual(['PATCH /tasks/avg.b disabled', 'POST /tasks enabled', 'PATCH /tasks/avg.b enabled']);
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
});

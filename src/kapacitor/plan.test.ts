import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { durationNs, formatSyncPlan, isNoop, planSync, SyncPlanError, taskId, type RemoteTask, type SyncWants } from './plan.js';
import { loadTemplates, type LocalTemplate } from './tickscript.js';

const edge: LocalTemplate = {
  id: 'edge_detect',
  type: 'stream',
  script: 'stream|from()',
  file: 'tickscripts/edge_detect.tick',
  vars: { measurement: 'string', minDuration: 'duration', groups: 'list' },
};
const rate: LocalTemplate = {
  id: 'rate_batch',
  type: 'batch',
  script: 'batch|query(q)',
  file: 'tickscripts/rate_batch.tick',
  vars: { query: 'string', outputDB: 'string', every: 'duration' },
};

const wants: SyncWants = {
  templates: [edge, rate],
  databases: [{ db: 'telemetry', rp: 'autogen' }],
  taskName: '{template}.{db}.{rp}',
  vars: { edge_detect: { measurement: 'cpu', minDuration: '2m' }, rate_batch: { query: 'SELECT v FROM "{db}"."{rp}"."c"', outputDB: '{db}_out' } },
  status: 'enabled',
  prune: false,
};

function remoteOf(plan: ReturnType<typeof planSync>): { templates: { id: string; type: 'stream' | 'batch'; script: string }[]; tasks: RemoteTask[] } {
  const templates = plan.steps.flatMap((s) => (s.kind === 'create-template' ? [{ id: s.id, type: s.type, script: s.script }] : []));
  const tasks = plan.steps.flatMap((s) =>
    s.kind === 'create-task' ? [{ id: s.id, templateID: s.templateID, type: 'stream' as const, dbrps: s.dbrps, vars: s.vars, status: s.status }] : [],
  );
  return { templates, tasks };
}

describe('planSync', () => {
  it('creates every template, then one task per template and database/rp, with typed vars', () => {
    const plan = planSync(wants, [], []);
    expect(plan.steps.map((s) => `${s.kind} ${s.id}`)).toEqual([
      'create-template edge_detect',
      'create-template rate_batch',
      'create-task edge_detect.telemetry.autogen',
      'create-task rate_batch.telemetry.autogen',
    ]);
    expect(plan.steps[2]).toEqual({
      kind: 'create-task',
      id: 'edge_detect.telemetry.autogen',
      templateID: 'edge_detect',
      dbrps: [{ db: 'telemetry', rp: 'autogen' }],
      vars: { measurement: { type: 'string', value: 'cpu' }, minDuration: { type: 'duration', value: '2m' } },
      status: 'enabled',
    });
  });

  it("fills {db} and {rp} in string vars with each task's database and retention policy", () => {
    const plan = planSync({ ...wants, databases: [...wants.databases, { db: 'plant', rp: '30d' }] }, [], []);
    const rateTasks = plan.steps.filter((s) => s.kind === 'create-task' && s.templateID === 'rate_batch');
    expect(rateTasks.map((s) => s.kind === 'create-task' && s.vars)).toEqual([
      { query: { type: 'string', value: 'SELECT v FROM "telemetry"."autogen"."c"' }, outputDB: { type: 'string', value: 'telemetry_out' } },
      { query: { type: 'string', value: 'SELECT v FROM "plant"."30d"."c"' }, outputDB: { type: 'string', value: 'plant_out' } },
    ]);
  });

  it('is a no-op when Kapacitor already has exactly that (applying the plan twice changes nothing)', () => {
    const first = planSync(wants, [], []);
    const { templates, tasks } = remoteOf(first);
    const second = planSync(wants, templates, tasks);
    expect(isNoop(second)).toBe(true);
    expect(second.steps.map((s) => s.kind)).toEqual(['keep-template', 'keep-template', 'keep-task', 'keep-task']);
  });

  it('compares durations by value: Kapacitor may answer 120000000000 or 2m for 2m', () => {
    const { templates, tasks } = remoteOf(planSync(wants, [], []));
    tasks[0].vars.minDuration = { type: 'duration', value: 120_000_000_000 };
    expect(isNoop(planSync(wants, templates, tasks))).toBe(true);
  });

  it('updates a template whose script changed, and says what changed', () => {
    const { templates, tasks } = remoteOf(planSync(wants, [], []));
    templates[0].script = 'stream|from().measurement(m)';
    const plan = planSync(wants, templates, tasks);
    expect(plan.steps[0]).toEqual({
      kind: 'update-template',
      id: 'edge_detect',
      type: 'stream',
      script: 'stream|from()',
      changed: ['script'],
      before: { type: 'stream', script: 'stream|from().measurement(m)' },
    });
  });

  it('updates a task whose vars, dbrps or status drifted', () => {
    const { templates, tasks } = remoteOf(planSync(wants, [], []));
    tasks[0].vars.measurement = { type: 'string', value: 'mem' };
    tasks[0].status = 'disabled';
    tasks[1].dbrps = [{ db: 'telemetry', rp: 'other' }];
    const steps = planSync(wants, templates, tasks).steps.filter((s) => s.kind === 'update-task');
    expect(steps.map((s) => s.kind === 'update-task' && [s.id, s.changed])).toEqual([
      ['edge_detect.telemetry.autogen', ['vars', 'status']],
      ['rate_batch.telemetry.autogen', ['dbrps']],
    ]);
  });

  it('restarts an enabled task that Kapacitor stopped (executing false), and leaves a disabled one alone', () => {
    const { templates, tasks } = remoteOf(planSync(wants, [], []));
    tasks[0].executing = false;
    expect(planSync(wants, templates, tasks).steps).toContainEqual(expect.objectContaining({ kind: 'update-task', id: tasks[0].id, changed: ['not running'] }));
    const disabled = { ...wants, status: 'disabled' as const };
    const { templates: t2, tasks: k2 } = remoteOf(planSync(disabled, [], []));
    k2[0].executing = false;
    expect(isNoop(planSync(disabled, t2, k2))).toBe(true);
  });

  it('counts a var removed from config as drift', () => {
    const { templates, tasks } = remoteOf(planSync(wants, [], []));
    const plan = planSync({ ...wants, vars: { ...wants.vars, edge_detect: { measurement: 'cpu' } } }, templates, tasks);
    expect(plan.steps).toContainEqual(expect.objectContaining({ kind: 'update-task', id: 'edge_detect.telemetry.autogen', changed: ['vars'] }));
  });

  it('prunes only tasks made from our templates that are no longer wanted, and only when asked', () => {
    const { templates, tasks } = remoteOf(planSync(wants, [], []));
    const stale = { ...tasks[0], id: 'edge_detect.old.autogen', dbrps: [{ db: 'old', rp: 'autogen' }] };
    const foreign = { ...tasks[0], id: 'someone_else', templateID: 'their_template' };
    const remote = [...tasks, stale, foreign];
    expect(planSync(wants, templates, remote).steps.some((s) => s.kind === 'delete-task')).toBe(false);
    const pruned = planSync({ ...wants, prune: true }, templates, remote).steps.filter((s) => s.kind === 'delete-task');
    expect(pruned).toEqual([
      {
        kind: 'delete-task',
        id: 'edge_detect.old.autogen',
        templateID: 'edge_detect',
        before: { templateID: 'edge_detect', dbrps: stale.dbrps, vars: stale.vars, status: 'enabled' },
      },
    ]);
  });

  it('turns list vars into Kapacitor list vars, * into a star', () => {
    const plan = planSync({ ...wants, templates: [edge], vars: { edge_detect: { groups: ['host', '*'] } } }, [], []);
    expect(plan.steps[1]).toMatchObject({
      vars: {
        groups: {
          type: 'list',
          value: [
            { type: 'string', value: 'host' },
            { type: 'star', value: '' },
          ],
        },
      },
    });
  });

  it('names the config key for a var the template does not declare, a wrong type, or an unknown template', () => {
    const err = (w: Partial<SyncWants>) => {
      try {
        planSync({ ...wants, ...w }, [], []);
      } catch (e) {
        expect(e).toBeInstanceOf(SyncPlanError);
        return `${(e as SyncPlanError).key}: ${(e as Error).message}`;
      }
      throw new Error('no error');
    };
    expect(err({ vars: { edge_detect: { feild: 'x' } } })).toMatch(/^vars\.edge_detect\.feild: .*declares no var feild/);
    expect(err({ vars: { edge_detect: { minDuration: 5 } } })).toMatch(/^vars\.edge_detect\.minDuration: expected a duration/);
    expect(err({ vars: { nope: {} } })).toMatch(/^vars\.nope: no template nope/);
  });

  it('refuses a naming pattern that gives two tasks the same ID', () => {
    expect(() => planSync({ ...wants, taskName: '{db}' }, [], [])).toThrow(/same task ID telemetry/);
  });
});

describe("planSync: vars that follow the task's database", () => {
  // As tickscripts/counter_rate_batch.tick and counter_rate.tick declare them: defaults written for one database.
  const batch: LocalTemplate = {
    id: 'counter_rate_batch',
    type: 'batch',
    script: 'batch|query(query)',
    file: 'tickscripts/counter_rate_batch.tick',
    vars: { query: 'string', period: 'duration', outputDB: 'string', outputRP: 'string', outputMeasurement: 'string' },
    stringDefaults: {
      query: 'SELECT bytes_recv FROM "telegraf"."autogen"."net"',
      outputDB: 'telegraf',
      outputRP: 'autogen',
      outputMeasurement: 'net_rate_batch',
    },
  };
  const stream: LocalTemplate = {
    id: 'counter_rate',
    type: 'stream',
    script: 'stream|from()',
    file: 'tickscripts/counter_rate.tick',
    vars: { measurement: 'string', outputDB: 'string', outputRP: 'string' },
    stringDefaults: { measurement: 'net', outputDB: 'telegraf', outputRP: 'autogen' },
  };
  const two = {
    ...wants,
    templates: [stream, batch],
    databases: [
      { db: 'telegraf', rp: 'autogen' },
      { db: 'adsl', rp: '30d' },
    ],
    vars: {},
  };
  const varsOf = (plan: ReturnType<typeof planSync>, id: string) => plan.steps.flatMap((s) => (s.kind === 'create-task' && s.id === id ? [s.vars] : []))[0];

  it("gives each task its own database: the output database and rp, and the batch query's FROM", () => {
    const plan = planSync(two, [], []);
    expect(varsOf(plan, 'counter_rate.adsl.30d')).toEqual({ outputDB: { type: 'string', value: 'adsl' }, outputRP: { type: 'string', value: '30d' } });
    expect(varsOf(plan, 'counter_rate_batch.adsl.30d')).toEqual({
      outputDB: { type: 'string', value: 'adsl' },
      outputRP: { type: 'string', value: '30d' },
      query: { type: 'string', value: 'SELECT bytes_recv FROM "adsl"."30d"."net"' },
    });
    expect(varsOf(plan, 'counter_rate_batch.telegraf.autogen')).toMatchObject({ query: { value: 'SELECT bytes_recv FROM "telegraf"."autogen"."net"' } });
  });

  it('plans the packaged tickscripts on two databases with no vars at all, each task on its own database', () => {
    const packaged = loadTemplates(fileURLToPath(new URL('../../tickscripts', import.meta.url)));
    const plan = planSync({ ...two, templates: packaged }, [], []);
    const created = plan.steps.flatMap((s) => (s.kind === 'create-task' && s.dbrps[0].db === 'adsl' ? [s] : []));
    expect(created).toHaveLength(packaged.length);
    for (const t of created) {
      expect(t.vars.outputDB, t.id).toEqual({ type: 'string', value: 'adsl' });
      expect(t.vars.outputRP, t.id).toEqual({ type: 'string', value: '30d' });
      if (t.templateID.endsWith('_batch')) expect(String(t.vars.query?.value), t.id).toMatch(/ FROM "adsl"\."30d"\./);
    }
  });

  it('lets config win over a derived var', () => {
    const plan = planSync({ ...two, vars: { counter_rate: { outputDB: 'rates' } } }, [], []);
    expect(varsOf(plan, 'counter_rate.adsl.30d')).toMatchObject({ outputDB: { value: 'rates' }, outputRP: { value: '30d' } });
  });

  it('refuses, before anything is sent, a batch query that reads another database than its task', () => {
    const bad = { ...two, vars: { counter_rate_batch: { query: 'SELECT x FROM "telegraf"."autogen"."net"' } } };
    expect(() => planSync(bad, [], [])).toThrow(SyncPlanError);
    expect(() => planSync(bad, [], [])).toThrow(/reads "telegraf"\."autogen", but task counter_rate_batch runs on adsl\.30d: .*write "\{db\}"\."\{rp\}"/);
  });

  it('shows in the plan the values of the vars that change', () => {
    const { templates, tasks } = remoteOf(planSync(two, [], []));
    // As a sync of an older version left them: no vars, the template defaults (telegraf) everywhere.
    for (const t of tasks) t.vars = t.templateID === 'counter_rate' ? { measurement: { type: 'string', value: 'net' } } : {};
    const text = formatSyncPlan(planSync({ ...two, vars: { counter_rate: { measurement: 'net' } } }, templates, tasks));
    expect(text).toContain("~ task counter_rate.adsl.30d: vars (outputDB: default → 'adsl', outputRP: default → '30d')");
    expect(text).toContain(
      `~ task counter_rate_batch.adsl.30d: vars (outputDB: default → 'adsl', outputRP: default → '30d', query: default → 'SELECT bytes_recv FROM "adsl"."30d"."net"')`,
    );
    tasks[0].vars = {
      measurement: { type: 'string', value: 'cpu' },
      outputDB: { type: 'string', value: 'telegraf' },
      outputRP: { type: 'string', value: 'autogen' },
    };
    expect(formatSyncPlan(planSync({ ...two, vars: { counter_rate: { measurement: 'net' } } }, templates, tasks))).toContain(
      "~ task counter_rate.telegraf.autogen: vars (measurement: 'cpu' → 'net')",
    );
  });
});

describe('taskId', () => {
  it('fills the placeholders and refuses characters Kapacitor would refuse', () => {
    expect(taskId('udf-{template}-{db}-{rp}', 'rate', { db: 'telemetry', rp: '30d' })).toBe('udf-rate-telemetry-30d');
    expect(() => taskId('{template} {db}', 'rate', { db: 'a', rp: 'b' })).toThrow(SyncPlanError);
  });
});

describe('durationNs', () => {
  it('reads InfluxQL duration literals and nanosecond counts', () => {
    expect(durationNs('1h30m')).toBe(5_400_000_000_000n);
    expect(durationNs('10s')).toBe(10_000_000_000n);
    expect(durationNs('250ms')).toBe(250_000_000n);
    expect(durationNs(1000)).toBe(1000n);
    expect(durationNs('10 s')).toBeUndefined();
    expect(durationNs('1.5h')).toBeUndefined();
  });
});

describe('formatSyncPlan', () => {
  it('prints one line per step', () => {
    expect(formatSyncPlan(planSync({ ...wants, templates: [edge], vars: { edge_detect: wants.vars.edge_detect } }, [], [])).split('\n')).toEqual([
      '+ template edge_detect (stream)',
      '+ task edge_detect.telemetry.autogen from edge_detect on telemetry.autogen with measurement=cpu minDuration=2m (enabled)',
    ]);
  });
});

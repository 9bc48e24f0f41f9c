import { describe, expect, it } from 'vitest';
import { formatPlan, isNoop, planSetup, PlanError, type OrgState, type SetupWants, type TokenInfo } from './plan.js';

const buckets = [
  { id: 'b1', name: 'telemetry', retentionSeconds: 100_000, system: false },
  { id: 'b2', name: 'archive', retentionSeconds: 0, system: false },
  { id: 's1', name: '_monitoring', retentionSeconds: 604_800, system: true },
];

const wants: SetupWants = { tokenPrefix: 'udf-sidecar', rotateTokens: false };

function state(over: Partial<OrgState> = {}): OrgState {
  return { orgID: 'o1', orgName: 'acme', buckets, dbrps: [], tokens: [], ...over };
}

const feederToken: TokenInfo = {
  id: 't1',
  description: 'udf-sidecar:feeders',
  active: true,
  permissions: [
    { action: 'write', type: 'buckets', id: 'b2' },
    { action: 'write', type: 'buckets', id: 'b1' },
  ],
};
const kapacitorToken: TokenInfo = {
  id: 't2',
  description: 'udf-sidecar:kapacitor',
  active: true,
  permissions: ['b1', 'b2'].flatMap((id) => [
    { action: 'read' as const, type: 'buckets', id },
    { action: 'write' as const, type: 'buckets', id },
  ]),
};

describe('planSetup: DBRP mappings', () => {
  it('creates one mapping per user bucket, database = bucket name, rp = retention literal, as the default', () => {
    const plan = planSetup(state(), wants);
    expect(plan.steps.filter((s) => s.kind === 'create-dbrp')).toEqual([
      { kind: 'create-dbrp', bucketID: 'b2', bucketName: 'archive', database: 'archive', retentionPolicy: 'infinite', default: true },
      { kind: 'create-dbrp', bucketID: 'b1', bucketName: 'telemetry', database: 'telemetry', retentionPolicy: '1d3h46m40s', default: true },
    ]);
  });

  it('never maps or grants system buckets', () => {
    const plan = planSetup(state(), wants);
    expect(JSON.stringify(plan)).not.toContain('_monitoring');
    expect(JSON.stringify(plan)).not.toContain('"s1"');
  });

  it('keeps a mapping that already exists for the same bucket', () => {
    const dbrps = [{ id: 'd1', bucketID: 'b1', database: 'telemetry', retentionPolicy: '1d3h46m40s', default: true }];
    const plan = planSetup(state({ dbrps }), wants);
    expect(plan.steps).toContainEqual({ kind: 'keep-dbrp', id: 'd1', bucketName: 'telemetry', database: 'telemetry', retentionPolicy: '1d3h46m40s' });
    expect(plan.steps.filter((s) => s.kind === 'create-dbrp').map((s) => 'database' in s && s.database)).toEqual(['archive']);
  });

  it('reports, and leaves alone, a mapping of the same database/rp that points at another bucket', () => {
    const dbrps = [{ id: 'd9', bucketID: 'other', database: 'telemetry', retentionPolicy: '1d3h46m40s', default: true }];
    const plan = planSetup(state({ dbrps }), wants);
    expect(plan.steps).toContainEqual({
      kind: 'conflict-dbrp',
      id: 'd9',
      database: 'telemetry',
      retentionPolicy: '1d3h46m40s',
      mappedBucketID: 'other',
      bucketName: 'telemetry',
    });
    expect(plan.steps.some((s) => s.kind === 'create-dbrp' && s.database === 'telemetry')).toBe(false);
  });

  it('does not steal the default when the database already has a default mapping under another rp', () => {
    const dbrps = [{ id: 'd1', bucketID: 'b1', database: 'telemetry', retentionPolicy: 'autogen', default: true }];
    const plan = planSetup(state({ dbrps }), wants);
    expect(plan.steps).toContainEqual(expect.objectContaining({ kind: 'create-dbrp', database: 'telemetry', retentionPolicy: '1d3h46m40s', default: false }));
  });
});

describe('planSetup: tokens', () => {
  it('creates a write-only feeders token and a read/write Kapacitor token on every user bucket', () => {
    const plan = planSetup(state(), wants);
    const tokens = plan.steps.filter((s) => s.kind === 'create-token');
    expect(tokens).toEqual([
      {
        kind: 'create-token',
        role: 'feeders',
        description: 'udf-sidecar:feeders',
        permissions: [
          { action: 'write', bucketID: 'b2', bucketName: 'archive' },
          { action: 'write', bucketID: 'b1', bucketName: 'telemetry' },
        ],
      },
      {
        kind: 'create-token',
        role: 'kapacitor',
        description: 'udf-sidecar:kapacitor',
        permissions: [
          { action: 'read', bucketID: 'b2', bucketName: 'archive' },
          { action: 'write', bucketID: 'b2', bucketName: 'archive' },
          { action: 'read', bucketID: 'b1', bucketName: 'telemetry' },
          { action: 'write', bucketID: 'b1', bucketName: 'telemetry' },
        ],
      },
    ]);
  });

  it('limits each token to the configured buckets', () => {
    const plan = planSetup(state(), { ...wants, feederBuckets: ['telemetry'], kapacitorBuckets: ['archive'] });
    const perms = Object.fromEntries(
      plan.steps.flatMap((s) => (s.kind === 'create-token' ? [[s.role, s.permissions.map((p) => `${p.action} ${p.bucketName}`)]] : [])),
    );
    expect(perms).toEqual({ feeders: ['write telemetry'], kapacitor: ['read archive', 'write archive'] });
  });

  it('fails naming the key when a configured bucket does not exist', () => {
    expect(() => planSetup(state(), { ...wants, kapacitorBuckets: ['nope'] })).toThrow(PlanError);
    try {
      planSetup(state(), { ...wants, kapacitorBuckets: ['nope'] });
    } catch (err) {
      expect((err as PlanError).key).toBe('kapacitorBuckets');
      expect((err as PlanError).message).toMatch(/nope.*archive, telemetry/);
    }
  });

  it('an empty list means no token for that role, and deletes an old one', () => {
    const plan = planSetup(state({ tokens: [feederToken] }), { ...wants, feederBuckets: [] });
    expect(plan.steps.filter((s) => 'role' in s && s.role === 'feeders')).toEqual([
      { kind: 'delete-token', role: 'feeders', id: 't1', description: 'udf-sidecar:feeders', reason: 'no buckets wanted' },
    ]);
  });

  it('keeps tokens whose permissions are exactly the wanted ones, whatever their order', () => {
    const dbrps = buckets
      .filter((b) => !b.system)
      .map((b, i) => ({ id: `d${i}`, bucketID: b.id, database: b.name, retentionPolicy: b.retentionSeconds ? '1d3h46m40s' : 'infinite', default: true }));
    const plan = planSetup(state({ tokens: [feederToken, kapacitorToken], dbrps }), wants);
    expect(plan.steps.filter((s) => s.kind.endsWith('-token'))).toEqual([
      { kind: 'keep-token', role: 'feeders', id: 't1', description: 'udf-sidecar:feeders' },
      { kind: 'keep-token', role: 'kapacitor', id: 't2', description: 'udf-sidecar:kapacitor' },
    ]);
    expect(isNoop(plan)).toBe(true);
  });

  it('replaces a token that holds more than it should: create the new one, then delete the old', () => {
    const tooBroad: TokenInfo = { ...feederToken, permissions: [...feederToken.permissions, { action: 'read', type: 'buckets', id: 'b1' }] };
    const plan = planSetup(state({ tokens: [tooBroad] }), wants);
    const feederSteps = plan.steps.filter((s) => 'role' in s && s.role === 'feeders');
    expect(feederSteps.map((s) => s.kind)).toEqual(['create-token', 'delete-token']);
    expect(feederSteps[1]).toMatchObject({ id: 't1', reason: 'permissions differ' });
    expect(isNoop(plan)).toBe(false);
  });

  it('treats an org-wide grant (no bucket id) as different from per-bucket grants', () => {
    const orgWide: TokenInfo = { ...feederToken, permissions: [{ action: 'write', type: 'buckets' }] };
    const plan = planSetup(state({ tokens: [orgWide] }), wants);
    expect(plan.steps).toContainEqual(expect.objectContaining({ kind: 'delete-token', id: 't1', reason: 'permissions differ' }));
  });

  it('replaces an inactive token', () => {
    const plan = planSetup(state({ tokens: [{ ...feederToken, active: false }] }), wants);
    expect(plan.steps).toContainEqual(expect.objectContaining({ kind: 'create-token', role: 'feeders' }));
    expect(plan.steps).toContainEqual(expect.objectContaining({ kind: 'delete-token', id: 't1', reason: 'inactive' }));
  });

  it('rotates matching tokens when asked, and says so', () => {
    const plan = planSetup(state({ tokens: [feederToken, kapacitorToken] }), { ...wants, rotateTokens: true });
    const tokenSteps = plan.steps.filter((s) => 'role' in s);
    expect(tokenSteps.map((s) => `${s.kind} ${s.role}`)).toEqual([
      'create-token feeders',
      'delete-token feeders',
      'create-token kapacitor',
      'delete-token kapacitor',
    ]);
    expect(tokenSteps.filter((s) => s.kind === 'delete-token').every((s) => s.kind === 'delete-token' && s.reason === 'rotated')).toBe(true);
  });

  it('leaves tokens of another prefix (another deployment in the same org) alone', () => {
    const plan = planSetup(state({ tokens: [{ ...feederToken, description: 'staging:feeders' }] }), wants);
    expect(plan.steps.some((s) => s.kind === 'delete-token')).toBe(false);
  });
});

describe('formatPlan', () => {
  it('prints one line per step with the org first, and never a token secret', () => {
    const dbrps = [{ id: 'd1', bucketID: 'b2', database: 'archive', retentionPolicy: 'infinite', default: true }];
    const text = formatPlan(planSetup(state({ dbrps, tokens: [kapacitorToken] }), { ...wants, feederBuckets: ['telemetry'] }));
    expect(text.split('\n')).toEqual([
      'org acme (o1)',
      '= dbrp archive/infinite -> bucket archive',
      '+ dbrp telemetry/1d3h46m40s -> bucket telemetry (default)',
      '+ token udf-sidecar:feeders: write telemetry',
      '= token udf-sidecar:kapacitor (id t2)',
    ]);
  });
});

import type { ConfigSection } from '../../config.js';

export interface RouterConfig {
  /** The `host` tag of its points. */
  name: string;
  host: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: Buffer;
  passphrase?: string;
  /** `SHA256:…` as `ssh-keygen -lf` prints it; undefined only when hostKeyCheck is off. */
  hostKeySha256?: string;
}

export interface RouterFeederConfig {
  intervalMs: number;
  timeoutMs: number;
  command: string;
  routers: RouterConfig[];
}

export function readRouterConfig(root: ConfigSection): RouterFeederConfig {
  const routers = root.sections('routers');
  if (!routers || routers.length === 0) throw root.error('routers', 'is required: a list of routers to poll');
  const names = new Set<string>();
  return {
    intervalMs: root.durationMs('interval', 300_000),
    timeoutMs: root.durationMs('timeout', 20_000),
    command: root.string('command', 'show adsl status'),
    routers: routers.map((r) => {
      const c = readRouter(r);
      if (names.has(c.name)) throw r.error('name', `router name ${c.name} appears twice`);
      names.add(c.name);
      return c;
    }),
  };
}

function readRouter(s: ConfigSection): RouterConfig {
  const host = s.requireString('host');
  const password = s.secret('password');
  const privateKey = s.file('privateKeyFile');
  if (password === undefined && privateKey === undefined) {
    throw s.error('password', 'give passwordEnv, passwordFile or privateKeyFile');
  }
  const check = s.oneOf('hostKeyCheck', ['fingerprint', 'off'] as const, 'fingerprint');
  const fingerprint = s.string('hostKeySha256');
  if (check === 'fingerprint' && fingerprint === undefined) {
    throw s.error('hostKeySha256', 'is required (ssh-keygen -l -E sha256 -f KEY.pub), or set hostKeyCheck: off');
  }
  return {
    name: s.string('name', host),
    host,
    port: s.number('port', 22, { min: 1, integer: true }),
    username: s.requireString('username'),
    password,
    privateKey,
    passphrase: s.secret('passphrase'),
    hostKeySha256: check === 'off' ? undefined : normaliseFingerprint(fingerprint!),
  };
}

/** Accepts `SHA256:abc…`, `abc…`, with or without base64 padding. */
export function normaliseFingerprint(text: string): string {
  return text
    .trim()
    .replace(/^SHA256:/i, '')
    .replace(/=+$/, '');
}

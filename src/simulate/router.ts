/**
 * A make-believe ADSL router fleet for the compose demo: one SSH server where each username is a router, answering
 * `show adsl status` the way the modems' CLI does. Each line holds SHOWTIME and retrains now and then, so the
 * edgeDetect tasks have state changes to report within a minute.
 */
import { timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';
import type { Logger } from '../log.js';

/** The reply for one poll of router `index` at `nowMs`: TRAINING for 20 s of every 60 s, shifted per router. Pure. */
export function adslStatusReply(index: number, nowMs: number): string {
  const second = Math.floor(nowMs / 1000) + index * 17;
  const n = second % 7;
  if (second % 60 < 20) {
    return [
      'ADSL Status Information:',
      '  Mode             : ADSL2+ (ITU G.992.5 Annex A)',
      '  Status           : TRAINING',
      `  Uptime           : 0:00:1${n}`,
      '                        Downstream      Upstream',
      '  Actual Rate      :        0 kbps         0 kbps',
      '  SNR Margin       :      N/A            N/A',
      '  Line Attenuation :     21.6 dB         11.9 dB',
      `  Link Retrains    :        ${n + 1}`,
      '',
    ].join('\n');
  }
  return [
    'ADSL Status Information:',
    '  Mode             : ADSL2+ (ITU G.992.5 Annex A)',
    '  Status           : SHOWTIME',
    `  Uptime           : 2 days, 03:14:0${n}`,
    '                        Downstream      Upstream',
    '  Actual Rate      :    16384 kbps      1023 kbps',
    `  Attainable Rate  :    1865${n} kbps      1180 kbps`,
    `  SNR Margin       :      6.${n} dB         12.1 dB`,
    '  Line Attenuation :     21.5 dB         11.8 dB',
    `  CRC Errors       :      12${n}              3`,
    `  FEC Errors       :     284${n}             12`,
    `  Link Retrains    :        ${n}`,
    '',
  ].join('\n');
}

export interface RouterSimOptions {
  host: string;
  port: number;
  /** Usernames accepted, one per router: router1 … routerN. */
  routers: number;
  password: string;
  log: Logger;
}

export async function startRouterSim(o: RouterSimOptions): Promise<{ close(): Promise<void> }> {
  // A fresh host key on every start: the demo's feeder config says hostKeyCheck: off for this reason.
  const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
  const expected = Buffer.from(o.password);
  const routerIndex = (user: string) => {
    const m = /^router(\d+)$/.exec(user);
    const i = m ? Number(m[1]) : 0;
    return i >= 1 && i <= o.routers ? i : 0;
  };
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    let index = 0;
    client.on('authentication', (ctx) => {
      const given = ctx.method === 'password' ? Buffer.from(ctx.password) : Buffer.alloc(0);
      const ok = routerIndex(ctx.username) > 0 && given.length === expected.length && timingSafeEqual(given, expected);
      if (!ok) return ctx.reject(['password']);
      index = routerIndex(ctx.username);
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        accept().once('exec', (acceptExec, _reject, info) => {
          const stream = acceptExec();
          if (info.command.trim() === 'show adsl status') {
            stream.write(adslStatusReply(index, Date.now()));
            stream.exit(0);
          } else {
            stream.write(`% Unknown command: ${info.command}\n`);
            stream.exit(1);
          }
          stream.end();
        });
      });
    });
    client.on('error', (err) => o.log.debug('router-sim client error', { error: err.message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  o.log.info('router simulator listening', { host: o.host, port: o.port, routers: o.routers });
  return { close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * What is at a socket path before a sidecar binds it. Only a refused connect (ECONNREFUSED: nobody listens on the
 * socket file) makes a socket a leftover of a crashed run. Anything else is a live sidecar's: it accepted, or its
 * accept backlog is full (EAGAIN), or it did not answer in time (busy). A regular file or a directory is refused.
 */
import { lstat } from 'node:fs/promises';
import net from 'node:net';
import { SocketPathError } from './errors.js';

export { SocketPathError };

export type SocketPathState = 'absent' | 'stale' | 'live';

const PROBE_TIMEOUT_MS = 2000;

export async function probeSocket(socketPath: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<'live' | 'stale' | 'absent'> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    const timer = setTimeout(() => done('live'), timeoutMs);
    function done(r: 'live' | 'stale' | 'absent'): void {
      clearTimeout(timer);
      c.destroy();
      resolve(r);
    }
    c.once('connect', () => done('live'));
    c.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'stale' : err.code === 'ENOENT' ? 'absent' : 'live'));
  });
}

export async function inspectSocketPath(socketPath: string): Promise<SocketPathState> {
  let st;
  try {
    st = await lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
  if (!st.isSocket()) {
    const what = st.isDirectory() ? 'a directory' : st.isFile() ? 'a regular file' : 'not a socket';
    throw new SocketPathError(`${socketPath} exists and is ${what}; refusing to replace it`);
  }
  return probeSocket(socketPath);
}

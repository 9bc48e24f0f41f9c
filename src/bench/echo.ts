/**
 * The benchmark's baseline: a Unix-socket server that frames nothing and writes back every chunk it receives, with
 * the same backpressure rule as the sidecar's connection (pause reading while a write is refused). Run as a child
 * process, like the sidecar, so both sides of the comparison cross the same process and socket boundaries.
 *
 *   node dist/bench/echo.js SOCKET_PATH     prints "ready" on stdout once listening
 */
import { unlink } from 'node:fs/promises';
import net from 'node:net';

async function main(socketPath: string): Promise<void> {
  await unlink(socketPath).catch(() => undefined);
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('data', (chunk) => {
      if (!socket.write(chunk)) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });
  server.listen(socketPath, () => process.stdout.write('ready\n'));
  const stop = (): void => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const socketPath = process.argv[2];
if (!socketPath) {
  process.stderr.write('usage: echo.js SOCKET_PATH\n');
  process.exit(2);
}
void main(socketPath);

/**
 * Paces the answers of connections fed a trickle. Kapacitor writes each point as two unbuffered writes, so a sidecar
 * that reads as soon as bytes arrive wakes, reads and writes once per point: on both sides that is a system call and a
 * wake-up per point, several times the cost of the point itself. After a read that brought little, the connection
 * hands its answers to the pacer instead of writing them. Once the reads of this turn of the event loop are done, the
 * pacer sleeps the thread for `holdMicros` (Atomics.wait: no CPU is spent, and kapacitord has the core), then every
 * connection waiting on it writes what it holds. Meanwhile the next points pile up in the socket, and the next read
 * takes them all: one read and one write for many points, and Kapacitor reads many answers in one read.
 *
 * An answer so waits at most holdMicros plus the work of one turn. The sleep stops the whole process, so one pacer
 * serves all connections of a process: a turn sleeps once, however many connections trickle.
 */
export const DEFAULT_HOLD_MICROS = 200;

export class AnswerPacer {
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));
  private readonly holdMs: number;
  private waiting: Array<() => void> = [];
  private spare: Array<() => void> = [];
  private scheduled = false;

  constructor(holdMicros: number = DEFAULT_HOLD_MICROS) {
    this.holdMs = holdMicros / 1000;
  }

  /** Calls `release` after this turn's reads and one hold; a caller asks at most once per release. */
  hold(release: () => void): void {
    this.waiting.push(release);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  private readonly run = (): void => {
    this.scheduled = false;
    if (this.holdMs > 0) Atomics.wait(this.sleeper, 0, 0, this.holdMs);
    const due = this.waiting;
    this.waiting = this.spare;
    for (let i = 0; i < due.length; i++) due[i]();
    due.length = 0;
    this.spare = due;
  };
}

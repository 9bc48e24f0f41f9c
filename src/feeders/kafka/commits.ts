/**
 * Which offset of a partition may be committed, while several chunks of it are being written at once. No I/O and no
 * clock: the feeder tells it a chunk began (in read order) and when its delivery finished, and it answers with the
 * offset that is now safe to commit.
 *
 * A chunk's messages are delivered when InfluxDB accepted their points and their dead letters are in their topic.
 * Deliveries finish in any order (the writer has several requests in flight), but the committed offset only ever
 * covers a prefix of the partition in which every chunk was delivered: chunk 3 finishing before chunk 2 commits
 * nothing; chunk 2 finishing then commits past both. A chunk that will never be delivered (the feeder stops, the
 * partition moves, a dead letter cannot be sent) stops the partition's commits for good: `failed`, after which no
 * later chunk commits, so the next owner starts at the first message not delivered.
 */
export interface Chunk {
  /** The offset after the chunk's last message: what a commit covering it says. */
  readonly next: bigint;
  /** Kafka timestamp (ms) of the chunk's first message, for the lag. */
  readonly firstTimestampMs: number;
  done: boolean;
}

export class PartitionCommits {
  private readonly chunks: Chunk[] = [];
  private head = 0;
  /** The offset after the delivered prefix; undefined until one chunk was delivered. */
  private delivered: bigint | undefined;
  private broken = false;

  /** A chunk was read and its delivery started; chunks must begin in offset order. */
  begin(next: bigint, firstTimestampMs: number): Chunk {
    const last = this.chunks.at(-1);
    if (last !== undefined && next <= last.next) throw new Error(`chunk ending at ${next} begun after one ending at ${last.next}`);
    const chunk: Chunk = { next, firstTimestampMs, done: false };
    this.chunks.push(chunk);
    return chunk;
  }

  /**
   * The chunk was delivered. Returns the offset to commit when the delivered prefix grew (every earlier chunk is
   * delivered too), undefined when an earlier chunk is still on its way or the partition failed.
   */
  deliver(chunk: Chunk): bigint | undefined {
    chunk.done = true;
    if (this.broken) return undefined;
    let advanced = false;
    while (this.head < this.chunks.length && this.chunks[this.head].done) {
      this.delivered = this.chunks[this.head].next;
      this.head++;
      advanced = true;
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
    return advanced ? this.delivered : undefined;
  }

  /** A chunk will not be delivered: nothing of this partition commits any more. */
  fail(): void {
    this.broken = true;
  }

  get failed(): boolean {
    return this.broken;
  }

  /** Chunks begun and not yet inside the delivered prefix. */
  get pending(): number {
    return this.chunks.length - this.head;
  }

  /** The offset after the delivered prefix (what may be committed), undefined before the first delivery. */
  get committable(): bigint | undefined {
    return this.delivered;
  }

  /** Kafka timestamp of the oldest message not in the delivered prefix, undefined when nothing is pending. */
  get oldestPendingMs(): number | undefined {
    return this.chunks[this.head]?.firstTimestampMs;
  }
}

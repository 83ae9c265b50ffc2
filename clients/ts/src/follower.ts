// The mirror side of one subscription (spec/wire-format.md §7.5), as the
// reference `Follower` of core/src/session/subscriber.rs does it: which
// update part continues or starts an update, anomalies answered with a
// request for a full update (an Ack of 0), the parts of an update held
// until its last one and applied in one step.

import { checkByte, ErrorCode, type Frame, type Range, type Resume } from "./frames.js";

type Update = Extract<Frame, { type: "update" }>;
type Schema = Extract<Frame, { type: "schema" }>;

const U64_MAX = (1n << 64n) - 1n;

/** The bytes a follower writes into: a mirror's data area and generation. */
export interface Copy {
  readonly data: Uint8Array;
  readonly fingerprint: bigint;
  generation: bigint;
}

/** A completed update, applied to the copy. */
export interface Applied {
  generation: bigint;
  /** The ranges written, ascending. */
  ranges: Range[];
  /** A full update (from base 0): the whole data area. */
  full: boolean;
}

/** A protocol error that ends the connection. */
export class Fatal extends Error {
  constructor(
    readonly code: number,
    reason: string,
  ) {
    super(reason);
    this.name = "Fatal";
  }
}

interface Progress {
  base: bigint;
  label: bigint;
  next: number;
}

export class Follower {
  private live = false;
  private resume: Resume | undefined;
  private instance = 0n;
  private held: bigint;
  private fullOk = true;
  private progress: Progress | undefined;
  private reference = 0n;
  private resyncing = false;
  private parts: Range[] = [];
  /** The generation to acknowledge, when one is due. */
  ackDue: bigint | undefined;
  updates = 0;
  resyncs = 0;

  constructor(
    private readonly copy: Copy,
    resume: Resume | undefined,
    private readonly alwaysFull = false,
  ) {
    this.held = copy.generation;
    this.resume = resume && resume.generation === this.held ? resume : undefined;
  }

  /** Where the copy stands, for the next connection's subscribe. */
  resumePoint(): Resume | undefined {
    return this.live ? { instance: this.instance, generation: this.held } : undefined;
  }

  /** A schema part; false when it is not the copy's schema. */
  onSchema(part: Schema): boolean {
    this.reference = 0n;
    if (part.fingerprint !== this.copy.fingerprint || part.dataLen !== this.copy.data.length) return false;
    if (!this.live) {
      this.instance = part.instance;
      this.fullOk = this.resume === undefined || this.resume.instance !== part.instance;
      if (this.fullOk) this.held = 0n;
      this.live = true;
    } else if (part.instance !== this.instance) {
      this.instance = part.instance;
      this.fullOk = true;
      this.held = 0n;
      this.progress = undefined;
    }
    return true;
  }

  /** An update part; the update it completes, if any. Throws `Fatal`. */
  onUpdate(update: Update): Applied | undefined {
    const generations = this.take(update);
    if (!this.live) return undefined;
    const dataLen = this.copy.data.length;
    if (update.ranges.some((r) => r.offset + r.bytes.length > dataLen)) {
      throw new Fatal(ErrorCode.OutOfBounds, "update reaches outside the data area");
    }
    if (!generations) return this.anomaly(false);
    const [base, label] = generations;
    const full = base === 0n;
    const first = update.ranges[0]?.offset;
    const fullStart = full && (this.fullOk || this.alwaysFull) && (first === undefined || first === 0);
    const p = this.progress;
    if (p) {
      this.progress = undefined;
      const follows = first === undefined || (full ? first === p.next : first >= p.next);
      if (p.base === base && p.label === label && follows) return this.apply(update, p, false);
      if (!fullStart) return this.anomaly(true);
    }
    if (!(fullStart || (!full && base === this.held))) return this.anomaly(full && update.last);
    return this.apply(update, { base, label, next: 0 }, true);
  }

  /** Asks for a full update: the copy keeps its bytes and holds generation 0. */
  askFull(): void {
    this.progress = undefined;
    this.resyncing = true;
    this.fullOk = true;
    this.held = 0n;
    this.copy.generation = 0n;
    this.ackDue = 0n;
    this.resyncs++;
  }

  /** The part's base and generation, following the reference (§4.4). */
  private take(update: Update): [bigint, bigint] | undefined {
    let base: bigint;
    if (update.base !== undefined) base = update.base;
    else if (update.check === checkByte(this.reference)) base = this.reference;
    else return undefined;
    const sum = base + update.step;
    const generation = sum > U64_MAX ? U64_MAX : sum;
    if (update.last) this.reference = generation;
    return [base, generation];
  }

  private anomaly(brokeUpdate: boolean): undefined {
    this.progress = undefined;
    if (this.resyncing && !brokeUpdate) return undefined;
    this.askFull();
    return undefined;
  }

  private apply(update: Update, p: Progress, first: boolean): Applied | undefined {
    const last = update.ranges[update.ranges.length - 1];
    if (last) p.next = last.offset + last.bytes.length;
    if (first) this.parts = [];
    // The bytes stay the receiver's: a part's ranges are views into its message.
    for (const r of update.ranges) this.parts.push({ offset: r.offset, bytes: r.bytes.slice() });
    if (!update.last) {
      this.progress = p;
      return undefined;
    }
    const ranges = this.parts;
    this.parts = [];
    for (const r of ranges) this.copy.data.set(r.bytes, r.offset);
    this.copy.generation = p.label;
    this.progress = undefined;
    this.held = p.label;
    this.fullOk = false;
    this.resyncing = false;
    this.ackDue = p.label;
    this.updates++;
    return { generation: p.label, ranges, full: p.base === 0n };
  }
}

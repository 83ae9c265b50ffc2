// A mirror: a client's copy of one region in an `ArrayBuffer`, kept current
// by the hub's updates; typed reads by name, writes through the hub, and
// change events naming the variables an update touched.

import type { HubError } from "./errors.js";
import type { Range } from "./frames.js";
import { readValue, type Value } from "./values.js";
import type { Variable } from "./schema.js";

/** What a mirror asks of its client. */
export interface MirrorOwner {
  write(mirror: Mirror, variable: Variable, value: unknown): Promise<bigint>;
}

/** Called with the names of the variables an update changed and its generation. */
export type ChangeListener = (names: string[], generation: bigint) => void;

export class Mirror {
  /** The data area: the region's bytes as of `generation`. */
  readonly data: Uint8Array;
  /** The region's generation these bytes are; 0 until the first update. */
  generation = 0n;
  /** The region's instance (a generation means something within one). */
  instance = 0n;
  /** Why the hub ended the subscription, once it did. */
  ended: HubError | undefined;
  private readonly byName = new Map<string, Variable>();
  private readonly listeners = new Set<ChangeListener>();

  /** @internal */
  constructor(
    /** The region's path, `tenant/region`. */
    readonly path: string,
    /** The variables, in offset order. */
    readonly schema: readonly Variable[],
    dataLen: number,
    /** The schema's fingerprint. */
    readonly fingerprint: bigint,
    private readonly owner: MirrorOwner,
  ) {
    this.data = new Uint8Array(new ArrayBuffer(dataLen));
    for (const v of schema) this.byName.set(v.name, v);
  }

  /** The variable named `name`; throws for an unknown name. */
  variable(name: string): Variable {
    const v = this.byName.get(name);
    if (!v) throw new RangeError(`${this.path} has no variable named ${name}`);
    return v;
  }

  /**
   * The value of `name`: a number (8- to 32-bit integers, floats), a bigint
   * (64-bit integers), a boolean, or for arrays and bytes a typed array
   * (a copy).
   */
  read(name: string): Value {
    return readValue(this.data, this.variable(name));
  }

  /** A copy of the whole data area. */
  snapshot(): Uint8Array {
    return this.data.slice();
  }

  /**
   * Writes `value` to `name` through the hub; resolves with the generation
   * that holds it, rejects with a `WriteError` the hub's refusal (rights,
   * read-only, a bad value).
   */
  set(name: string, value: unknown): Promise<bigint> {
    return this.owner.write(this, this.variable(name), value);
  }

  /** Calls `listener` after each update; returns a function that stops it. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** @internal An update was applied: tells the listeners which variables it touched. */
  changed(ranges: readonly Range[], generation: bigint): void {
    const names = touched(this.schema, ranges);
    for (const listener of [...this.listeners]) {
      try {
        listener(names, generation);
      } catch (e) {
        // One listener's error must not stop the others or the client.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}

/** The variables (offset order) that ascending `ranges` overlap. */
export function touched(schema: readonly Variable[], ranges: readonly Range[]): string[] {
  const names: string[] = [];
  let i = 0;
  for (const r of ranges) {
    const end = r.offset + r.bytes.length;
    while (i < schema.length && schema[i]!.offset + schema[i]!.size <= r.offset) i++;
    let j = i;
    while (j < schema.length && schema[j]!.offset < end) {
      const name = schema[j]!.name;
      if (names[names.length - 1] !== name) names.push(name);
      j++;
    }
    // The next range may still touch the last variable this one did.
    i = Math.max(i, j - 1);
  }
  return names;
}

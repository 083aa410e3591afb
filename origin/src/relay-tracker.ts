import { Outbox } from "@fluxgate/common";
import { productIdOfOutbox, type IdsByStream } from "./outbox";

export interface RelayTrackerOptions {
  /** An entry no forward confirmed for this long is claimed and produced by the relay. */
  minIdleMs: number;
  /** How often everything is swept. */
  sweepMs: number;
  /** Longest wait before a failed sweep is tried again. */
  maxBackoffMs: number;
  now: () => number;
}

/** An entry of the events stream: a sale's outbox opened or ended. */
export interface OutboxEvent {
  id: string;
  field: string | undefined;
  value: string;
}

/** What sweep.lua found of one outbox. */
export type OutboxState = "open" | "retired" | "broken";

export interface ReadOutcome {
  /** Events to acknowledge and delete with the next sweep. */
  eventIds: string[];
  /** Outboxes that opened: swept at once (group created, registry learnt). */
  opened: string[];
}

export interface SweptOutcome {
  /** An outbox the blocking read does not cover yet: it must be woken to read it. */
  added: boolean;
  retired: string[];
  /** Keys found broken for the first time (logged once). */
  broken: string[];
}

export interface RegistryOutcome {
  /** Outboxes registered without this relay hearing of it (another instance took the event): sweep them. */
  outboxes: string[];
  /** Registered keys that are no outbox, found for the first time (logged once). */
  strays: string[];
}

export interface SettlePlan {
  /** Entries no forward confirmed within minIdleMs, no longer tracked: claim and produce them. */
  claim: IdsByStream;
  /** Outboxes to sweep now: every open one (it was time), ended sales due for retiring, or none. */
  sweep: { kind: "all" | "ended"; streams: string[] } | undefined;
}

/** How many times a sale that ended is swept soon after, to retire it; then the periodic sweep does. */
const RETIRE_TRIES = 10;
/** An ended sale's forwards in flight still confirm during this (after minIdleMs); what is left then is claimed first. */
const END_GRACE_MS = 1_000;
/** The first periodic sweep comes soon after a start: a dead relay's entries are waiting. */
const FIRST_SWEEP_WITHIN_MS = 500;
/** A claim that failed is tried again this soon, instead of after another minIdleMs. */
const CLAIM_RETRY_MS = 1_000;

/**
 * What the relay knows and decides, without Redis or Kafka: the outboxes it reads, the entries it
 * read and nobody confirmed yet, the sales that ended, and when to claim, retire and sweep.
 * relay.ts does the I/O around it; the clock is passed in so tests can move time.
 */
export class RelayTracker {
  /** Outboxes read by the blocking call (each has the group). */
  private readonly open = new Set<string>();
  /** Keys in the registry that are no outbox, or no stream: left alone. */
  private readonly ignored = new Set<string>();
  /** Entries read and not confirmed yet: stream → id → when read, in reading order. */
  private readonly tracked = new Map<string, Map<string, number>>();
  /** Outboxes of sales that ended: when to try (again) to retire them, and how often it was tried. */
  private readonly ending = new Map<string, { at: number; tries: number }>();
  private nextSweepAt = 0;

  constructor(private readonly o: RelayTrackerOptions) {}

  /** The outboxes the relay reads (a copy). */
  get streams(): string[] {
    return [...this.open];
  }

  /** Entries read and not confirmed yet. */
  get backlog(): number {
    let n = 0;
    for (const ids of this.tracked.values()) n += ids.size;
    return n;
  }

  /** A read: outbox entries are tracked from now; events tell which sales opened and ended. */
  read(entries: IdsByStream, events: OutboxEvent[]): ReadOutcome {
    const now = this.o.now();
    for (const [stream, ids] of entries) for (const id of ids) this.track(stream, id, now);
    const opened = new Set<string>();
    for (const { field, value } of events) {
      if (productIdOfOutbox(value) === undefined) continue;
      if (field === Outbox.openedField) {
        opened.add(value);
        this.ending.delete(value);
        this.ignored.delete(value);
      } else if (field === Outbox.endedField && (this.open.has(value) || opened.has(value))) {
        this.ending.set(value, { at: now + this.o.minIdleMs + END_GRACE_MS, tries: 0 });
      }
    }
    return { eventIds: events.map((e) => e.id), opened: [...opened] };
  }

  /** Entries a forward (or the relay) confirmed: no need to check on them. */
  confirmed(ids: IdsByStream): void {
    for (const [stream, list] of ids) {
      const mine = this.tracked.get(stream);
      if (!mine) continue;
      for (const id of list) mine.delete(id);
      if (mine.size === 0) this.tracked.delete(stream);
    }
  }

  /** Kafka did not take them: claimed just now, so idle again, checked once more after minIdleMs. */
  produceFailed(entries: { stream: string; id: string }[]): void {
    const now = this.o.now();
    for (const e of entries) this.track(e.stream, e.id, now);
  }

  /** The claim of `due` failed: tried again soon, each entry not tracked anew meanwhile. */
  claimFailed(due: IdsByStream): void {
    const retryAt = this.o.now() - this.o.minIdleMs + Math.min(CLAIM_RETRY_MS, this.o.minIdleMs);
    for (const [stream, ids] of due) for (const id of ids) if (!this.tracked.get(stream)?.has(id)) this.track(stream, id, retryAt);
  }

  /** What sweep.lua found of each outbox of `list` (same order); what the relay reads follows. */
  swept(states: { stream: string; state: OutboxState }[]): SweptOutcome {
    const outcome: SweptOutcome = { added: false, retired: [], broken: [] };
    for (const { stream, state } of states) {
      if (state === "open") {
        if (!this.open.has(stream)) outcome.added = true;
        this.open.add(stream);
        continue;
      }
      this.open.delete(stream);
      this.tracked.delete(stream);
      this.ending.delete(stream);
      if (state === "retired") outcome.retired.push(stream);
      else if (!this.ignored.has(stream)) {
        this.ignored.add(stream);
        outcome.broken.push(stream);
      }
    }
    return outcome;
  }

  /** The registry's members after a sweep of `list`: what this relay did not know of. */
  registry(members: string[], list: readonly string[]): RegistryOutcome {
    const unknown = members.filter((m) => !this.open.has(m) && !list.includes(m) && !this.ignored.has(m));
    const strays = unknown.filter((m) => productIdOfOutbox(m) === undefined);
    for (const key of strays) this.ignored.add(key);
    return { outboxes: unknown.filter((m) => productIdOfOutbox(m) !== undefined), strays };
  }

  /** The read loop swept every outbox itself (at start, after a failed read): the periodic sweep comes soon after. */
  resynced(): void {
    this.nextSweepAt = this.o.now() + Math.min(this.o.sweepMs, this.o.minIdleMs + FIRST_SWEEP_WITHIN_MS);
  }

  /** A planned sweep failed: tried again after a backoff, not a whole sweepMs. */
  sweepFailed(): void {
    this.nextSweepAt = this.o.now() + Math.min(this.o.sweepMs, this.o.maxBackoffMs);
  }

  /** What is due now: overdue entries (no longer tracked) and the sweep, if any. */
  settle(): SettlePlan {
    const now = this.o.now();
    return { claim: this.takeOverdue(now), sweep: this.sweepDue(now) };
  }

  /** When something is next due (an entry's idle time, a sale to retire, the periodic sweep). */
  nextDueAt(): number {
    let at = this.nextSweepAt;
    for (const ids of this.tracked.values()) {
      const first = ids.values().next();
      if (!first.done) at = Math.min(at, first.value + this.o.minIdleMs);
    }
    for (const e of this.ending.values()) at = Math.min(at, e.at);
    return at;
  }

  private track(stream: string, id: string, at: number) {
    let ids = this.tracked.get(stream);
    if (!ids) this.tracked.set(stream, (ids = new Map()));
    ids.set(id, at);
  }

  private takeOverdue(now: number): IdsByStream {
    const due: IdsByStream = new Map();
    for (const [stream, ids] of this.tracked) {
      const overdue: string[] = [];
      for (const [id, at] of ids) {
        // Read in order: the first entry not overdue ends this stream's list.
        if (at + this.o.minIdleMs > now) break;
        overdue.push(id);
      }
      for (const id of overdue) ids.delete(id);
      if (overdue.length > 0) due.set(stream, overdue);
      if (ids.size === 0) this.tracked.delete(stream);
    }
    return due;
  }

  private sweepDue(now: number): SettlePlan["sweep"] {
    if (now >= this.nextSweepAt) {
      this.nextSweepAt = now + this.o.sweepMs;
      return { kind: "all", streams: this.streams };
    }
    // Still draining (its last entries being relayed): tried again a little later, a few times, then left to the periodic sweep.
    const ended = [...this.ending].filter(([, e]) => e.at <= now).map(([s]) => s);
    for (const s of ended) {
      const e = this.ending.get(s)!;
      if (e.tries >= RETIRE_TRIES) this.ending.delete(s);
      else this.ending.set(s, { at: now + this.o.minIdleMs, tries: e.tries + 1 });
    }
    return ended.length > 0 ? { kind: "ended", streams: ended } : undefined;
  }
}

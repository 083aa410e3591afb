/** Where a part of the stack answers, and whether `up` started it (only those does `down` stop). */
export interface Endpoint {
  url: string;
  ours: boolean;
  /** Started by this very call (not only by an earlier `up`). */
  started?: boolean;
}

/** Where a part of the stack answers, and whether `up` started it (only those does `down` stop). */
export interface Endpoint {
  url: string;
  ours: boolean;
}

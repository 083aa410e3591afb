// Types for scenarios.js, which stays plain JavaScript so k6 can import it.
export interface Scenario {
  name: string;
  stock: number;
  buyers: number;
  ratePerSecond: number;
  perUserLimit: number;
  vus: number;
}
export declare const flood: Scenario;
export declare const crowd: Scenario & { pollSeconds: number; arrivalSeconds: number };
export declare const spike: Omit<Scenario, "buyers" | "vus"> & {
  peakPerSecond: number;
  rampSeconds: number;
  holdSeconds: number;
  preAllocatedVUs: number;
  maxVUs: number;
};
export declare const expectedStatuses: number[];
export declare function productIdFor(scenario: Pick<Scenario, "name">, runId: string): string;

// Flash-sale scenarios, shared by the k6 scripts (k6/*.js, against a deployed worker) and the local
// Node tools (src/*.ts, against the local stack). Plain ESM JavaScript so k6 can import it as is.

/** The original Flux-Gate scenario: start a sale, flood /order, every answer must be 200, 302 or 409. */
export const flood = {
  name: "flood",
  stock: 1000,
  buyers: 50000,
  ratePerSecond: 2000,
  perUserLimit: 1,
  /** Concurrent clients. */
  vus: 500,
};

/** A browser-like crowd: follow the 302, poll the waiting room, buy when admitted, stop on 409. */
export const crowd = {
  name: "crowd",
  stock: 1000,
  buyers: 20000,
  ratePerSecond: 200,
  perUserLimit: 1,
  vus: 1000,
  /** How often a waiting page polls its status, as the page does (waiting-room/index.html). */
  pollSeconds: 1,
  /** Buyers arrive over this many seconds. */
  arrivalSeconds: 10,
};

/** The statuses a purchase attempt may get in a healthy sale. */
export const expectedStatuses = [200, 302, 409];

export const productIdFor = (scenario, runId) => `${scenario.name}-${runId}`;

/**
 * A drop as it arrives: an open workload, buyers arriving at a rate whatever the answers' speed
 * (k6's ramping-arrival-rate), rising from nothing to the peak within seconds, holding, then gone.
 * Each arrival is a new signed-in buyer with one attempt.
 */
export const spike = {
  name: "spike",
  stock: 1000,
  ratePerSecond: 2000,
  perUserLimit: 1,
  /** Arrivals per second at the top of the spike. */
  peakPerSecond: 5000,
  rampSeconds: 5,
  holdSeconds: 20,
  /** Virtual users ready before the spike, and the most k6 may add when answers slow down. */
  preAllocatedVUs: 500,
  maxVUs: 5000,
};

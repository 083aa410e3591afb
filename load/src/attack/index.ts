/**
 * The attackers of issue 21, in one place: the bench (bench-attack.ts), the demo and the stack's
 * adversary test (stack/test/adversary-bill.test.ts) run the same requests.
 */
export { billRoutes, type RouteBill } from "./bill";
export { billBursts, runAttackFleet, withinBurstTarget, type Burst, type BurstBill } from "./fleet";
export { ATTACK_TARGET_PER_REQUEST, cleanUpAttack, prepareAttack, type AttackFixtures, type AttackTarget } from "./fixtures";
export { flood, type FloodOptions, type FloodResult } from "./flood";
export { edgeResidentMb } from "./memory";
export { attackRoutes, CATALOG_READS, type AttackRoute } from "./routes";
export { runTabs, sampleSale, scalperScenario, type ScalperScenario, type TabsOptions, type TabsResult } from "./scalper";

import type { CpuUse } from "./cpu";

/**
 * When a figure measures the system and when it measures something else. Pure: the benches
 * print what these say beside every throughput figure.
 *
 * A single-threaded process (workerd runs all isolates of a process on one thread; redis; a wrk
 * thread; a Node service's main thread) cannot go past one core: at ≥ 90% of it, it is what
 * bounds the rate. 90%, not 100%: /proc ticks are 10 ms and a saturated loop still waits a
 * little on its sockets.
 */
export const SATURATED_SHARE = 0.9;

/** The parts whose CPU is the load generator's. */
export const GENERATOR_PARTS = ["wrk (load gen)", "bench (load gen)"] as const;

export interface GeneratorUse {
  /** Cores the generator used. */
  cores: number;
  /** Cores it can use at most: one per wrk thread. */
  threads: number;
  saturated: boolean;
}

/** The generator's CPU in a window, and whether it was the ceiling (then no ratio may be printed). */
export function generatorUse(cpu: CpuUse, threads: number, part: (typeof GENERATOR_PARTS)[number] = "wrk (load gen)"): GeneratorUse {
  const cores = cpu.cores[part] ?? 0;
  return { cores, threads, saturated: cores >= SATURATED_SHARE * threads };
}

export interface Bottleneck {
  /** The busiest single process's part, e.g. "workerd (bench)". */
  part: string;
  /** Its cores (one process). */
  cores: number;
  /** That process at ≥ 90% of a core. */
  saturated: boolean;
  /** All processes together at ≥ 90% of the machine's cores: everyone waited for a core. */
  machineFull: boolean;
  machineCores: number;
  /** Cores the hypervisor took (CpuUse.steal). */
  steal: number;
}

/** Above this much steal (cores) a window is marked: the machine's neighbours slowed it, whatever its own CPU says. */
export const NOISY_STEAL = 0.1;

/** Which process was at 100% (or nearest to it) in a window. */
export function bottleneck(cpu: CpuUse): Bottleneck {
  const [part, cores] = Object.entries(cpu.peak)
    .filter(([name]) => name !== "other")
    .sort((a, b) => b[1] - a[1])[0] ?? ["none", 0];
  const machineCores = Object.values(cpu.cores).reduce((a, b) => a + b, 0);
  // Cores taken by the hypervisor were not there for anyone: the machine is full sooner.
  const machineFull = machineCores + cpu.steal >= SATURATED_SHARE * cpu.capacity;
  return { part, cores, saturated: cores >= SATURATED_SHARE, machineFull, machineCores, steal: cpu.steal };
}

/** "workerd (bench) 0.98 (saturated)", "machine full 1.93/2, busiest workerd (bench) 0.71". */
export function describeBottleneck(b: Bottleneck, capacity: number): string {
  const busiest = `${b.part} ${b.cores.toFixed(2)}${b.saturated ? " (saturated)" : ""}`;
  const stolen = b.steal >= NOISY_STEAL ? `, steal ${b.steal.toFixed(2)} (noisy)` : "";
  return (b.machineFull && !b.saturated ? `machine full ${b.machineCores.toFixed(2)}/${capacity}, busiest ${busiest}` : busiest) + stolen;
}

/**
 * A throughput ratio, or why there is none: a ratio is printed only when neither window's
 * generator was saturated (otherwise it compares the generator with itself).
 */
export function ratioOrRefusal(
  path: { rps: number; generator: GeneratorUse },
  hello: { rps: number; generator: GeneratorUse },
): { ratio: number; refused: undefined } | { ratio: undefined; refused: string } {
  const saturated = [path.generator.saturated && "this path's", hello.generator.saturated && "hello world's"].filter(Boolean);
  if (saturated.length) return { ratio: undefined, refused: `generator saturated in ${saturated.join(" and ")} window` };
  if (!(hello.rps > 0)) return { ratio: undefined, refused: "hello world answered nothing" };
  return { ratio: path.rps / hello.rps, refused: undefined };
}

import { describe, expect, it } from "vitest";
import type { CpuUse } from "../src/bench/cpu";
import { bottleneck, describeBottleneck, generatorUse, ratioOrRefusal } from "../src/bench/saturation";

const cpu = (cores: Record<string, number>, peak: Record<string, number> = cores, steal = 0): CpuUse => ({
  seconds: 5,
  cores,
  peak,
  others: {},
  capacity: 2,
  steal,
});

describe("saturation", () => {
  it("calls a one-thread wrk at 0.9 core saturated, and two threads at 1.8", () => {
    expect(generatorUse(cpu({ "wrk (load gen)": 0.93 }), 1).saturated).toBe(true);
    expect(generatorUse(cpu({ "wrk (load gen)": 0.6 }), 1).saturated).toBe(false);
    expect(generatorUse(cpu({ "wrk (load gen)": 1.2 }), 2).saturated).toBe(false);
    expect(generatorUse(cpu({}), 1)).toEqual({ cores: 0, threads: 1, saturated: false });
  });

  it("refuses a ratio when either window's generator was saturated", () => {
    const free = { cores: 0.4, threads: 1, saturated: false };
    const busy = { cores: 0.97, threads: 1, saturated: true };
    expect(ratioOrRefusal({ rps: 400, generator: free }, { rps: 1000, generator: free })).toEqual({ ratio: 0.4, refused: undefined });
    expect(ratioOrRefusal({ rps: 400, generator: free }, { rps: 1000, generator: busy }).refused).toBe("generator saturated in hello world's window");
    expect(ratioOrRefusal({ rps: 400, generator: busy }, { rps: 1000, generator: busy }).refused).toBe(
      "generator saturated in this path's and hello world's window",
    );
    expect(ratioOrRefusal({ rps: 400, generator: free }, { rps: 0, generator: free }).refused).toMatch(/nothing/);
  });

  it("names the busiest single process, not the biggest part", () => {
    // Two workerd processes at 0.6 each: the part is 1.2 cores, but neither process is saturated.
    const b = bottleneck(cpu({ "workerd (bench)": 1.2, bridge: 0.3, other: 3 }, { "workerd (bench)": 0.6, bridge: 0.3, other: 3 }));
    expect(b).toMatchObject({ part: "workerd (bench)", cores: 0.6, saturated: false, machineFull: true });
    expect(describeBottleneck(b, 2)).toBe("machine full 4.50/2, busiest workerd (bench) 0.60");
    const w = bottleneck(cpu({ "workerd (bench)": 0.99, "wrk (load gen)": 0.5 }));
    expect(describeBottleneck(w, 2)).toBe("workerd (bench) 0.99 (saturated)");
  });

  it("counts the cores a hypervisor took: the machine is full sooner, and the window is marked noisy", () => {
    // 1.2 cores busy of 2, but 0.7 stolen: nobody could have had more.
    const b = bottleneck(cpu({ "workerd (bench)": 0.8, bridge: 0.4 }, { "workerd (bench)": 0.8, bridge: 0.4 }, 0.7));
    expect(b).toMatchObject({ machineFull: true, steal: 0.7 });
    expect(describeBottleneck(b, 2)).toBe("machine full 1.20/2, busiest workerd (bench) 0.80, steal 0.70 (noisy)");
    // A little steal is no note.
    expect(describeBottleneck(bottleneck(cpu({ "workerd (bench)": 0.99 }, undefined, 0.05)), 2)).toBe("workerd (bench) 0.99 (saturated)");
  });
});

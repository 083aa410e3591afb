import { state } from "./runtime";

export class Counter {
  constructor(private readonly name: string) {
    state.counters.set(name, state.counters.get(name) ?? 0);
  }
  add(value: number): void {
    state.counters.set(this.name, (state.counters.get(this.name) ?? 0) + value);
  }
}

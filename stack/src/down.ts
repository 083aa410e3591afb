import type { StackConfig } from "./config";
import { stopKafka } from "./kafka";
import { withLock } from "./lock";
import { stopPostgres } from "./postgres";
import { stopRedis } from "./redis";
import { serviceNames, stopService } from "./services";
import type { Say } from "./up";

/** Stops, in reverse order, only what `up` started; a redis or postgres that was already there keeps running. */
export function down(config: StackConfig, say: Say = () => undefined): Promise<void> {
  return withLock(config.home, "stack", () => takeDown(config, say));
}

async function takeDown(config: StackConfig, say: Say): Promise<void> {
  for (const name of [...serviceNames].reverse()) {
    if (await stopService(config, name)) say(`stopped ${name}`);
  }
  for (const name of await stopKafka(config.home)) say(`stopped ${name}`);
  if (await stopRedis(config)) say("stopped redis");
  if (await stopPostgres(config)) say("stopped postgres");
}

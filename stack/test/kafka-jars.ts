import { mkdirSync, symlinkSync } from "node:fs";
import { dirname } from "node:path";
import { stackHome, type StackHome } from "../src/home";
import { ensureKafkaJars, KAFKA_VERSION, kafkaLibsDir } from "../src/kafka";

/**
 * Gives a test's own FLUXGATE_HOME the jars of the stack's cache (the one `up` fills; fetched
 * there if missing) by a link, so the test neither copies them again with Maven (half a minute)
 * nor races the global setup's Maven on ~/.m2. Removing the test's home removes only the link.
 */
export async function shareKafkaJars(root: string): Promise<StackHome> {
  const libs = await ensureKafkaJars(stackHome(process.env.FLUXGATE_HOME), KAFKA_VERSION, () => undefined);
  const home = stackHome(root);
  mkdirSync(dirname(kafkaLibsDir(home, KAFKA_VERSION)), { recursive: true });
  symlinkSync(libs, kafkaLibsDir(home, KAFKA_VERSION));
  return home;
}

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { repoRoot } from "./home";

/**
 * The Kafka and PostgreSQL versions of the origin side, defined once: docker-compose.yml's
 * `x-versions` (the images compose runs). The native stack reads them here: it fetches that Kafka
 * release from Maven Central, and runs on that PostgreSQL major (stack/test/health.test.ts checks
 * the one it found).
 */
export function originSideVersions(): { kafka: string; postgresMajor: number } {
  const compose = parse(readFileSync(join(repoRoot, "docker-compose.yml"), "utf8")) as { "x-versions"?: Record<string, string> };
  const tag = (service: string) => {
    const image = compose["x-versions"]?.[service];
    const version = image?.split(":")[1];
    if (!version) throw new Error(`docker-compose.yml x-versions names no ${service} image with a tag`);
    return version;
  };
  return { kafka: tag("kafka"), postgresMajor: Number.parseInt(tag("postgres"), 10) };
}

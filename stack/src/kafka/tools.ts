import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

const INSTALL_HINT = "install openjdk-17-jre-headless and maven: apt-get update && apt-get install -y openjdk-17-jre-headless maven";

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** `$JAVA_HOME/bin/java` when set (as Kafka's own scripts do), else `java` from PATH. */
export function javaCommand(): string {
  const fromHome = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : undefined;
  if (fromHome && existsSync(fromHome)) return fromHome;
  const java = onPath("java");
  if (!java) throw new Error(`Kafka needs Java 17+, and no 'java' was found on PATH: ${INSTALL_HINT}`);
  return java;
}

export function mavenCommand(): string {
  const mvn = onPath("mvn");
  if (!mvn) throw new Error(`fetching Kafka needs Maven, and no 'mvn' was found on PATH: ${INSTALL_HINT}`);
  return mvn;
}

import { stackConfig } from "./config";
import { down } from "./down";
import { formatStatus, status } from "./status";
import { up } from "./up";

const usage = "usage: npm run up | npm run down | npm run status [-- --json]";

async function main(command: string | undefined, flags: string[]): Promise<number> {
  const config = stackConfig();
  const say = (line: string) => console.log(line);
  switch (command) {
    case "up":
      await up(config, say);
      console.log(`\n${formatStatus(await status(config))}\n\nlogs: ${config.home.logs}`);
      return 0;
    case "down":
      await down(config, say);
      console.log("stack down");
      return 0;
    case "status": {
      const rows = await status(config);
      console.log(flags.includes("--json") ? JSON.stringify(rows, null, 2) : formatStatus(rows));
      return rows.some((r) => r.running) ? 0 : 3;
    }
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv[2], process.argv.slice(3)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`\n${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);

import { stackConfig } from "./config";
import { audit, auditClean } from "./audit";
import { readState } from "./state";

/** npm run audit -- <productId>: one JSON object; exit 1 when anything was oversold, lost or duplicated, or the stock disagrees. */
async function main(productId: string | undefined): Promise<number> {
  if (!productId) {
    console.error("usage: npm run audit -- <productId>");
    return 2;
  }
  const config = stackConfig();
  const state = readState(config.home);
  const report = await audit(
    {
      redisUrl: state?.redis.url ?? config.redisUrl,
      databaseUrl: state?.postgres.url ?? config.databaseUrl,
      kafkaBrokers: state?.kafka.brokers ?? [`127.0.0.1:${config.kafka.port}`],
      ...(process.env.DATABASE_SCHEMA ? { databaseSchema: process.env.DATABASE_SCHEMA } : {}),
    },
    productId,
  );
  console.log(JSON.stringify(report, null, 2));
  return auditClean(report) ? 0 : 1;
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(2);
  },
);

import { Redis } from "ioredis";

/** The pid of the redis-server answering `url` (INFO server), so its CPU is told from other redis servers on a shared machine. */
export async function redisServerPid(url: string): Promise<number | undefined> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const pid = /^process_id:(\d+)/m.exec(await redis.info("server"))?.[1];
    return pid ? Number(pid) : undefined;
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

import { createServer, type AddressInfo } from "node:net";

/** A port nobody listens on now, for a process a test starts beside the stack (never the stack's own ports). */
export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

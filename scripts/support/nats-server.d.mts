/** Types of `nats-server.mjs`, for the TypeScript test helper that starts servers with it. */
import type { ChildProcess } from 'node:child_process';

export declare function natsServerPath(): string | undefined;
export interface NatsServerProcess {
  readonly child: ChildProcess;
  log(): string;
  readonly ready: Promise<{ readonly url: string; readonly port: number }>;
}
export declare function startNatsServer(options: {
  readonly storeDir?: string;
  readonly port?: number;
  readonly path?: string;
}): NatsServerProcess;

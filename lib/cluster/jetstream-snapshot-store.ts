/**
 * The `SnapshotStore` on a NATS JetStream Object Store: one bucket per event log stream
 * (`<stream>_SNAPSHOTS`), one object in it (`graph`), replaced by each save. Object Store
 * chunks what it stores, so a snapshot of millions of edges fits, and it purges the old
 * object's chunks once the new one is complete.
 *
 * Invariants: `latest()` retries a read that a concurrent save cut short (the old chunks
 * purged while they were being read) up to `SNAPSHOT_READ_ATTEMPTS` times; NATS client errors
 * become `ERR_LOG_FAILED`.
 */
import type { StorageType } from '@nats-io/jetstream';
import { type ObjectStore, Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, MazeError } from '../errors.js';
import { messageOf } from './nats-error.js';
import type { SnapshotStore } from './snapshot-store.js';

/** Reads of the snapshot a gateway tries before giving up (a save replacing it can cut one short). */
const SNAPSHOT_READ_ATTEMPTS = 3;

/** The one object of the bucket. */
const OBJECT_NAME = 'graph';

export interface JetStreamSnapshotStoreOptions {
  /** The event log's stream: the bucket is `<stream>_SNAPSHOTS`. */
  readonly stream: string;
  readonly storage: StorageType;
  readonly replicas: number;
}

export class JetStreamSnapshotStore implements SnapshotStore {
  readonly #store: ObjectStore;
  readonly #bucket: string;

  private constructor(store: ObjectStore, bucket: string) {
    this.#store = store;
    this.#bucket = bucket;
  }

  /** Finds or creates the bucket. Rejects with `ERR_LOG_FAILED`. */
  static async open(
    connection: NatsConnection,
    options: JetStreamSnapshotStoreOptions,
  ): Promise<JetStreamSnapshotStore> {
    const bucket = `${options.stream}_SNAPSHOTS`;
    try {
      const store = await new Objm(connection).create(bucket, {
        storage: options.storage,
        replicas: options.replicas,
      });
      return new JetStreamSnapshotStore(store, bucket);
    } catch (error) {
      throw new MazeError(
        ErrorCode.LogFailed,
        `cannot open the snapshot bucket ${bucket}: ${messageOf(error)}`,
      );
    }
  }

  async save(bytes: Uint8Array): Promise<void> {
    try {
      await this.#store.putBlob({ name: OBJECT_NAME }, bytes);
    } catch (error) {
      throw new MazeError(
        ErrorCode.LogFailed,
        `cannot save a snapshot in bucket ${this.#bucket}: ${messageOf(error)}`,
      );
    }
  }

  async latest(): Promise<Uint8Array | undefined> {
    let failure: unknown;
    for (let attempt = 0; attempt < SNAPSHOT_READ_ATTEMPTS; attempt++) {
      try {
        return (await this.#store.getBlob(OBJECT_NAME)) ?? undefined;
      } catch (error) {
        failure = error;
      }
    }
    throw new MazeError(
      ErrorCode.LogFailed,
      `cannot read the snapshot in bucket ${this.#bucket}: ${messageOf(failure)}`,
    );
  }
}

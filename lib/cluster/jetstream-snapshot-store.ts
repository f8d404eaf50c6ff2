/**
 * The `SnapshotStore` on a NATS JetStream Object Store: one bucket per event log stream
 * (`<stream>_SNAPSHOTS`), one object per snapshot (`graph-<position>`, the position
 * zero-padded), the `SNAPSHOTS_KEPT` newest kept. Object Store chunks what it stores, so a
 * snapshot of millions of edges fits.
 *
 * Invariants: a save puts the new object whole before it deletes the oldest beyond
 * `SNAPSHOTS_KEPT`; the object `graph` (the one snapshot kept before there were several)
 * lists as the oldest. `read()` retries a read cut short up to `SNAPSHOT_READ_ATTEMPTS` times
 * unless the object was deleted meanwhile; NATS client errors become `ERR_LOG_FAILED`.
 */
import type { StorageType } from '@nats-io/jetstream';
import { type ObjectStore, Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, MazeError } from '../errors.js';
import { messageOf } from './nats-error.js';
import { SNAPSHOTS_KEPT, type SnapshotStore, type StoredSnapshot } from './snapshot-store.js';

/** Reads of a snapshot a gateway tries before giving up (a lost connection can cut one short). */
const SNAPSHOT_READ_ATTEMPTS = 3;

/** Object names: `graph-` and the position, padded so that names sort as positions do. */
const OBJECT_PREFIX = 'graph-';
const POSITION_DIGITS = 16;
/** The single object of buckets written before several snapshots were kept. */
const LEGACY_OBJECT_NAME = 'graph';

export interface JetStreamSnapshotStoreOptions {
  /** The event log's stream: the bucket is `<stream>_SNAPSHOTS`. */
  readonly stream: string;
  readonly storage: StorageType;
  readonly replicas: number;
}

export class JetStreamSnapshotStore implements SnapshotStore {
  readonly #store: ObjectStore;
  readonly #bucket: string;
  readonly where: string;

  private constructor(store: ObjectStore, bucket: string) {
    this.#store = store;
    this.#bucket = bucket;
    this.where = `bucket ${bucket}`;
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

  async save(bytes: Uint8Array, position: number): Promise<void> {
    try {
      await this.#store.putBlob({ name: objectName(position) }, bytes);
      for (const old of (await this.list()).slice(SNAPSHOTS_KEPT)) {
        await this.#store.delete(old.name);
      }
    } catch (error) {
      throw new MazeError(
        ErrorCode.LogFailed,
        `cannot save a snapshot in bucket ${this.#bucket}: ${messageOf(error)}`,
      );
    }
  }

  async list(): Promise<readonly StoredSnapshot[]> {
    try {
      const objects = (await this.#store.list()).filter(
        (info) => !info.deleted && (info.name === LEGACY_OBJECT_NAME || isSnapshotName(info.name)),
      );
      // Newest first; the legacy object, positionless, last.
      return objects
        .map((info) => ({ name: info.name, bytes: info.size }))
        .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    } catch (error) {
      throw new MazeError(
        ErrorCode.LogFailed,
        `cannot list the snapshots in bucket ${this.#bucket}: ${messageOf(error)}`,
      );
    }
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    let failure: unknown;
    for (let attempt = 0; attempt < SNAPSHOT_READ_ATTEMPTS; attempt++) {
      try {
        return (await this.#store.getBlob(name)) ?? undefined;
      } catch (error) {
        failure = error;
        // Deleted by a newer save while it was read: gone, not failed.
        const info = await this.#store.info(name).catch(() => undefined);
        if (info === null || info?.deleted === true) return undefined;
      }
    }
    throw new MazeError(
      ErrorCode.LogFailed,
      `cannot read snapshot ${name} in bucket ${this.#bucket}: ${messageOf(failure)}`,
    );
  }
}

function objectName(position: number): string {
  return `${OBJECT_PREFIX}${String(position).padStart(POSITION_DIGITS, '0')}`;
}

function isSnapshotName(name: string): boolean {
  return name.length === OBJECT_PREFIX.length + POSITION_DIGITS && name.startsWith(OBJECT_PREFIX);
}

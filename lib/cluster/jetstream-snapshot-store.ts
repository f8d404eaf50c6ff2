/**
 * The `SnapshotStore` on a NATS JetStream Object Store: one bucket per event log stream
 * (`<stream>_SNAPSHOTS`), one object per snapshot (`graph-<position>`, the position
 * zero-padded), the `SNAPSHOTS_KEPT` newest kept. Object Store chunks what it stores, so a
 * snapshot of millions of edges fits.
 *
 * Invariants: a save puts the new object whole before it deletes the oldest beyond
 * `SNAPSHOTS_KEPT`, then purges the delete marker each deletion leaves on the object's meta
 * subject (one name per position: markers would pile up, and every list reads them all),
 * so the bucket's stream holds only the kept snapshots; the object `graph` (the one snapshot kept before there were several)
 * lists as the oldest. `read()` retries a read cut short up to `SNAPSHOT_READ_ATTEMPTS` times
 * unless the object was deleted meanwhile; NATS client errors become `ERR_LOG_FAILED`.
 */
import { type JetStreamManager, jetstreamManager, type StorageType } from '@nats-io/jetstream';
import { type ObjectInfo, type ObjectStore, Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, MazeError } from '../errors.js';
import { messageOf } from './nats-error.js';
import { SNAPSHOTS_KEPT, type SnapshotStore, type StoredSnapshot } from './snapshot-store.js';

/** Reads of a snapshot a gateway tries before giving up (a lost connection can cut one short). */
const SNAPSHOT_READ_ATTEMPTS = 3;

/** Object names: `graph-` and the position, padded so that names sort as positions do. */
const OBJECT_PREFIX = 'graph-';
const POSITION_DIGITS = 16;

export interface JetStreamSnapshotStoreOptions {
  /** The event log's stream: the bucket is `<stream>_SNAPSHOTS`. */
  readonly stream: string;
  readonly storage: StorageType;
  readonly replicas: number;
}

export class JetStreamSnapshotStore implements SnapshotStore {
  readonly #store: ObjectStore;
  readonly #manager: JetStreamManager;
  readonly #bucket: string;
  readonly where: string;

  private constructor(store: ObjectStore, manager: JetStreamManager, bucket: string) {
    this.#store = store;
    this.#manager = manager;
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
      // No API check: the Objm above has made one; gateways never use the manager.
      const manager = await jetstreamManager(connection, { checkAPI: false });
      return new JetStreamSnapshotStore(store, manager, bucket);
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
      const objects = await this.#store.list();
      const dropped = newestFirst(objects.filter(isLiveSnapshot)).slice(SNAPSHOTS_KEPT);
      // Each purges the object's chunks and leaves a delete marker.
      for (const old of dropped) await this.#store.delete(old.name);
      const gone = new Set(dropped.map((old) => old.name));
      await this.#purgeMarkers(objects.filter((info) => !gone.has(info.name)));
    } catch (error) {
      throw new MazeError(
        ErrorCode.LogFailed,
        `cannot save a snapshot in bucket ${this.#bucket}: ${messageOf(error)}`,
      );
    }
  }

  async list(): Promise<readonly StoredSnapshot[]> {
    try {
      return newestFirst((await this.#store.list()).filter(isLiveSnapshot));
    } catch (error) {
      throw new MazeError(
        ErrorCode.LogFailed,
        `cannot list the snapshots in bucket ${this.#bucket}: ${messageOf(error)}`,
      );
    }
  }

  /**
   * Purges every meta subject but those of `live`: the markers of deleted objects, this
   * save's and any a save cut short left.
   */
  async #purgeMarkers(live: readonly ObjectInfo[]): Promise<void> {
    const stream = `OBJ_${this.#bucket}`;
    const kept = new Set(live.map((info) => this.#metaSubject(info.name)));
    const info = await this.#manager.streams.info(stream, {
      subjects_filter: `$O.${this.#bucket}.M.>`,
    });
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      if (!kept.has(subject)) await this.#manager.streams.purge(stream, { filter: subject });
    }
  }

  /** The subject of an object's meta, as Object Store names it: URL-safe base64, padded. */
  #metaSubject(name: string): string {
    const token = Buffer.from(name, 'utf8').toString('base64').replace(/\+/g, '-');
    return `$O.${this.#bucket}.M.${token.replace(/\//g, '_')}`;
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

function isLiveSnapshot(info: ObjectInfo): boolean {
  return !info.deleted && isSnapshotName(info.name);
}

/** Newest first. */
function newestFirst(objects: readonly ObjectInfo[]): StoredSnapshot[] {
  return objects
    .map((info) => ({ name: info.name, bytes: info.size }))
    .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
}

function isSnapshotName(name: string): boolean {
  return name.length === OBJECT_PREFIX.length + POSITION_DIGITS && name.startsWith(OBJECT_PREFIX);
}

/**
 * What each watched client is owed by a stream of valid events: a tiny model of the server,
 * independent of `lib/`, for the load scripts. It keeps the follow sets and, per watched user,
 * the byte count and hash of its notifications in sequence order.
 *
 * Invariants: events are applied in sequence order; lines are ASCII, so one character is one
 * byte and `hashText` over a line equals `hashBytes` over its bytes, which lets a client hash
 * its socket chunks as they arrive and compare with the model.
 */

/**
 * A 32-bit hash of a byte stream fed in pieces, over text (one byte per character).
 * @param {number} hash the hash so far (0 to start)
 * @param {string} text
 */
export function hashText(hash, text) {
  let h = hash;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  return h;
}

/**
 * The same hash as `hashText`, over bytes.
 * @param {number} hash the hash so far (0 to start)
 * @param {Uint8Array} bytes
 */
export function hashBytes(hash, bytes) {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) h = (Math.imul(h, 31) + bytes[i]) | 0;
  return h;
}

export class OwedNotifications {
  /** @type {Map<number, Set<number>>} followee -> its followers */
  #followers = new Map();
  /** @type {Map<number, { bytes: number, hash: number }>} watched user -> what it is owed */
  owed;
  /** Notifications owed to watched users so far. */
  notifications = 0;

  /** @param {Iterable<number>} watchedUsers the users whose clients are checked */
  constructor(watchedUsers) {
    this.owed = new Map([...watchedUsers].map((user) => [user, { bytes: 0, hash: 0 }]));
  }

  /**
   * Applies event `sequence` of `type` and returns its line (`from`/`to` are ignored where
   * the type has no such field).
   * @param {'F' | 'U' | 'B' | 'P' | 'S'} type
   * @param {number} sequence
   * @param {number} from
   * @param {number} to
   * @returns {string}
   */
  apply(type, sequence, from, to) {
    switch (type) {
      case 'F': {
        const line = `${sequence}|F|${from}|${to}\n`;
        let followers = this.#followers.get(to);
        if (followers === undefined) {
          followers = new Set();
          this.#followers.set(to, followers);
        }
        followers.add(from);
        this.#notify(to, line);
        return line;
      }
      case 'U':
        this.#followers.get(to)?.delete(from);
        return `${sequence}|U|${from}|${to}\n`;
      case 'B': {
        const line = `${sequence}|B\n`;
        for (const user of this.owed.keys()) this.#notify(user, line);
        return line;
      }
      case 'P': {
        const line = `${sequence}|P|${from}|${to}\n`;
        this.#notify(to, line);
        return line;
      }
      case 'S': {
        const line = `${sequence}|S|${from}\n`;
        for (const user of this.#followers.get(from) ?? []) this.#notify(user, line);
        return line;
      }
    }
    throw new RangeError(`unknown event type ${type}`);
  }

  /** Bytes owed to all watched users together. */
  totalBytes() {
    let total = 0;
    for (const { bytes } of this.owed.values()) total += bytes;
    return total;
  }

  /**
   * @param {number} user
   * @param {string} line
   */
  #notify(user, line) {
    const owed = this.owed.get(user);
    if (owed === undefined) return;
    owed.bytes += line.length;
    owed.hash = hashText(owed.hash, line);
    this.notifications++;
  }
}

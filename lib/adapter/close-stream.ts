/**
 * Two-step closing of a stream the adapter attached: `end()` so buffered output
 * is flushed and the peer sees an orderly end, then `destroy()` once the output has been
 * flushed or a bounded wait has passed, whichever comes first.
 *
 * Invariant: the returned promise always settles, at the latest `waitMs` after the call
 * (plus one turn of the event loop), and the stream is destroyed by then.
 */
import type { Duplex, Readable, Writable } from 'node:stream';

type AnyStream = Readable | Writable | Duplex;

function isWritable(stream: AnyStream): stream is Writable {
  return typeof (stream as Writable).end === 'function' && 'writableEnded' in stream;
}

function isReadable(stream: AnyStream): stream is Readable {
  return typeof (stream as Readable).resume === 'function' && 'readableEnded' in stream;
}

/** Ends `stream`, keeps discarding what it still reads, and destroys it when flushed or after `waitMs`. */
export function closeStream(stream: AnyStream, waitMs: number): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  // Keep reading so the peer is never blocked on a full window while we close.
  if (isReadable(stream)) stream.resume();
  if (!isWritable(stream) || stream.writableFinished) {
    stream.destroy();
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.off('finish', finish);
      stream.off('close', finish);
      stream.off('error', finish);
      stream.destroy();
      resolve();
    };
    const timer = setTimeout(finish, waitMs);
    timer.unref();
    stream.once('finish', finish);
    stream.once('close', finish);
    // An error while ending only means the peer is gone; the owner reports stream errors.
    stream.once('error', finish);
    if (!stream.writableEnded) stream.end();
  });
}

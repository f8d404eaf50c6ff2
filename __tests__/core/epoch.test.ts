/**
 * A stream's epoch (docs/protocol.md §12): the token's format, the line that carries it, and
 * how `MazeCore` reads a resume against it.
 */
import { describe, expect, it } from '@jest/globals';
import { checkEpoch, EPOCH_MAX_LENGTH, epochLine, isEpoch } from '../../lib/core/epoch.js';
import { MazeCore } from '../../lib/core/maze-core.js';
import { ErrorCode } from '../../lib/errors.js';

describe('isEpoch and checkEpoch', () => {
  it.each(['0', '1733600000123456789', 'blue-7', '!~', 'x'.repeat(EPOCH_MAX_LENGTH)])(
    'take %j',
    (epoch) => {
      expect(isEpoch(epoch)).toBe(true);
      expect(checkEpoch(epoch, ';')).toBe(epoch);
    },
  );

  it.each(['', 'a|b', 'a b', 'a\r', 'a\n', '\u00e9', 'x'.repeat(EPOCH_MAX_LENGTH + 1)])(
    'refuse %j',
    (epoch) => {
      expect(isEpoch(epoch)).toBe(false);
      expect(() => checkEpoch(epoch, ';')).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOption }),
      );
    },
  );

  it('refuses an epoch that holds the delimiter, or is not a string', () => {
    expect(isEpoch('a;b')).toBe(true);
    expect(() => checkEpoch('a;b', ';')).toThrow(
      expect.objectContaining({
        message: expect.stringContaining('without | or the delimiter ";"'),
      }),
    );
    expect(() => checkEpoch(7, '|')).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidOption }),
    );
  });

  it('puts it on an LF-terminated line that no event line can be, with the number notifications start after', () => {
    expect(epochLine('42', 17)).toBe('!EPOCH|42|17\n');
    expect(epochLine('42', 0)).toBe('!EPOCH|42|0\n');
  });
});

describe('MazeCore and its epoch', () => {
  /** A core of epoch 42 that applied broadcasts 1 and 2. */
  function coreAfterTwo(): MazeCore {
    const core = new MazeCore({ resumeBytes: 1 << 20, epoch: '42' });
    core.push('1|B\n');
    core.push('2|B\n');
    return core;
  }

  it('replays a resume that names its epoch', () => {
    const core = coreAfterTwo();
    const outcome = core.resume(5, 1, '42');
    expect(outcome).toMatchObject({ exact: true, notifications: 1 });
  });

  it('refuses one from another epoch without reading its number: live from the next event', () => {
    const core = coreAfterTwo();
    for (const after of [0, 1, 2, 9]) {
      expect(core.resume(5, after, '43')).toEqual({ exact: false, reason: 'epoch', next: 3 });
    }
  });

  it('names the last event applied, the one before startSequence while none was', () => {
    expect(new MazeCore().lastApplied).toBe(0);
    const core = new MazeCore({ startSequence: 7, resumeBytes: 1 << 20 });
    expect(core.lastApplied).toBe(6);
    // Resuming after it before anything was applied is exact: nothing missed.
    expect(core.resume(5, core.lastApplied, core.epoch)).toMatchObject({
      exact: true,
      notifications: 0,
    });
    core.push('8|B\n');
    expect(core.lastApplied).toBe(6);
    core.push('7|B\n');
    expect(core.lastApplied).toBe(8);
    expect(core.resume(5, 6, core.epoch)).toMatchObject({ exact: true, notifications: 2 });
    core.reset();
    expect(core.lastApplied).toBe(6);
  });

  it('is 0 unless given, and checks the one given against its delimiter', () => {
    expect(new MazeCore().epoch).toBe('0');
    expect(() => new MazeCore({ epoch: 'a;b', delimiter: ';' })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidOption }),
    );
  });

  it('takes another epoch at reset(), so a number of the old stream is refused', () => {
    const core = coreAfterTwo();
    core.reset('44');
    core.push('1|B\n');
    core.push('2|B\n');
    expect(core.epoch).toBe('44');
    expect(core.resume(5, 2, '42')).toEqual({ exact: false, reason: 'epoch', next: 3 });
    expect(core.resume(5, 1, '44')).toMatchObject({ exact: true, notifications: 1 });
    expect(() => core.reset('a|b')).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidOption }),
    );
    expect(core.epoch).toBe('44');
    expect(core.stats().nextSequence).toBe(3);
  });
});

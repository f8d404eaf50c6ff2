// Imports the installed package from an ES module and runs one event through a maze made of
// in-memory streams: the exports resolve and the code they point to works.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { duplexPair, PassThrough } from 'node:stream';
import { createMaze, ErrorCode, listen, MazeCore, simulate } from 'follower-maze';

for (const value of [createMaze, listen, MazeCore, simulate])
  assert.equal(typeof value, 'function');
assert.equal(ErrorCode.LineTooLong, 'ERR_LINE_TOO_LONG');

const maze = createMaze();
const [serverSide, clientSide] = duplexPair();
maze.attachClient(serverSide);
clientSide.write('7\n');
await once(maze, 'clientIdentified');

const source = new PassThrough();
maze.attachEventSource(source);
source.write('2|P|1|7\n1|B\n');
clientSide.setEncoding('latin1');
let received = '';
while (received.length < '1|B\n2|P|1|7\n'.length) {
  const [chunk] = await once(clientSide, 'data');
  received += chunk;
}
assert.equal(received, '1|B\n2|P|1|7\n');
source.end();
await maze.close();
console.log('smoke-pack: ESM import ok');

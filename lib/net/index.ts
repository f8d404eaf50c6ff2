/** TCP listening on top of the stream adapter. */
export { type ListenOptions, listen, type MazeServer } from './listen.js';

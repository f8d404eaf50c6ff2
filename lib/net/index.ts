/** TCP listening on top of the stream adapter. */
export { type ListenOptions, listen, type MazeServer } from './listen.js';
export {
  type ClientTaker,
  type EventSourceTaker,
  type OpenPort,
  openClientPort,
  openEventPort,
} from './ports.js';

/** follower-maze: the package entry. */
export * from './adapter/index.js';
export * from './cluster/index.js';
export * from './core/index.js';
export * from './monitor/index.js';
export * from './net/index.js';
export * from './simulate/index.js';

/** follower-maze: the package entry. */
export * from './core/index.js';

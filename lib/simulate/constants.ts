/**
 * Tuning of the simulator that more than one of its modules reads; a module's own tuning
 * lives in that module, and the options with their defaults are rows in `options.ts`.
 */
/** Generated event bytes gathered into one write to the event source. */
export const EVENT_WRITE_SIZE = 64 * 1024;

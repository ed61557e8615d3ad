// The errors a node refuses to start with (src/main.ts prints them); apart so that
// checksum.ts and sqlite.ts can both use them without importing each other.
/** A file that is not this node's: another cluster or node, another format, not a flagraft file at all. */
export class StoreOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreOpenError';
  }
}

/** A file of this node that is damaged: checksum mismatch, missing entries, files that do not fit together. */
export class StoreCorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreCorruptError';
  }
}

// Read-your-writes for the flag list: the highest revision a write made
// through this dashboard process produced. The next list load waits until
// the index holds it (list-cache.ts), whichever gateway answered the write.
let lastWrite = 0;

export function noteWrite(revision: number): void {
  if (Number.isInteger(revision) && revision > lastWrite) lastWrite = revision;
}

export function lastWriteRevision(): number {
  return lastWrite;
}

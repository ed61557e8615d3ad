// Re-reading a secrets file (tokens, event keys) when it changes, shared by
// every watcher in this package.
import { stat, statSync, type Stats } from 'node:fs';

export interface FileWatch {
  /** Re-reads the file now (SIGHUP). Returns true if the new contents were installed. */
  reload(): boolean;
  close(): void;
}

/**
 * Calls `reload` whenever `file` changes (mtime, size or inode: an atomic
 * rename and a Kubernetes secret update, which swaps a symlink, both count),
 * checked every `intervalMs` (0 = never; reload() still works).
 *
 * Own polling rather than fs.watchFile: its first stat is asynchronous, so a
 * change made right after the watch starts could become its baseline and be
 * missed. Here the baseline is taken now, synchronously.
 */
export function watchFile(file: string, intervalMs: number, reload: () => boolean): FileWatch {
  const version = (st: Stats | undefined) => (st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'missing');
  let seen: string;
  try {
    seen = version(statSync(file));
  } catch {
    seen = version(undefined);
  }
  let polling = false;
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          if (polling) return;
          polling = true;
          stat(file, (err, st) => {
            polling = false;
            const v = version(err ? undefined : st);
            if (v === seen) return;
            seen = v;
            reload(); // a missing or broken file is reported by reload() and keeps the previous contents
          });
        }, intervalMs)
      : undefined;
  timer?.unref(); // must not keep the process alive on shutdown
  return {
    reload,
    close() {
      clearInterval(timer);
    },
  };
}

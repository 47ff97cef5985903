// Notices when files change, including when an editor, certbot or a Kubernetes secret mount
// replaces them (rename over, symlink swap) rather than writing in place. fs.watch on the parent
// directories gives quick notice; a periodic stat catches what fs.watch misses (NFS, some
// container mounts). Both only schedule a check; the check compares stat signatures.
import { statSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface WatchOptions {
  /** Quiet time after the last event before the check runs (default 250 ms). */
  debounceMs?: number;
  /** Interval of the stat fallback (default 5 s; 0 disables it). */
  pollIntervalMs?: number;
}

export interface FileWatcher {
  close(): void;
}

/** Calls `onChange` (debounced) when any of `files` changes, appears or disappears. */
export function watchFiles(files: readonly string[], onChange: () => void, options: WatchOptions = {}): FileWatcher {
  const debounceMs = options.debounceMs ?? 250;
  const pollIntervalMs = options.pollIntervalMs ?? 5_000;
  const paths = [...new Set(files.map((f) => resolve(f)))];
  let signatures = paths.map(signature);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const check = (): void => {
    timer = undefined;
    if (closed) return;
    const next = paths.map(signature);
    if (next.some((s, i) => s !== signatures[i])) {
      signatures = next;
      onChange();
    }
  };
  const schedule = (): void => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(check, debounceMs);
    timer.unref();
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    try {
      const w = watch(dir, { persistent: false }, schedule);
      w.on('error', () => undefined); // the directory went away: the poll still runs
      watchers.push(w);
    } catch {
      // unwatchable directory (missing, or no inotify left): rely on the poll
    }
  }
  const poll = pollIntervalMs > 0 ? setInterval(schedule, pollIntervalMs) : undefined;
  poll?.unref();

  return {
    close(): void {
      closed = true;
      for (const w of watchers) w.close();
      if (poll !== undefined) clearInterval(poll);
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

/** Follows symlinks: a swapped `..data` link changes the target's inode. */
function signature(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? ''}`;
  }
}

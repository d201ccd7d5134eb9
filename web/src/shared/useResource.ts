// Load something over REST, keep the last good value, and reload on demand or `refreshMs`
// after each load. The refresh is the stand-in for §8's live updates: when a screen takes its
// data from the socket, drop its `refreshMs` and call `reload()` on "resync".
import { useCallback, useEffect, useEffectEvent, useState } from "react";
import { describeError } from "../api";

export interface Resource<T> {
  data: T | undefined;
  /** the last load's failure, in words; cleared by the next success */
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

interface Loaded<T> {
  key: string;
  data: T | undefined;
  error: string | undefined;
}

/** `key` names what is loaded: a new key drops the old data at once. */
export function useResource<T>(
  load: (signal: AbortSignal) => Promise<T>,
  key: string,
  options: { refreshMs?: number } = {},
): Resource<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>({ key, data: undefined, error: undefined });
  const [version, setVersion] = useState(0);
  const fetchNow = useEffectEvent(load);
  const { refreshMs } = options;

  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = (update: (previous: Loaded<T>) => Loaded<T>) => {
      if (abort.signal.aborted) return;
      setLoaded(update);
      if (refreshMs !== undefined) {
        timer = setTimeout(() => {
          setVersion((n) => n + 1);
        }, refreshMs);
      }
    };
    fetchNow(abort.signal).then(
      (data) => {
        settle(() => ({ key, data, error: undefined }));
      },
      (failure: unknown) => {
        settle((previous) => ({
          key,
          data: previous.key === key ? previous.data : undefined,
          error: describeError(failure),
        }));
      },
    );
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [key, version, refreshMs]);

  const reload = useCallback(() => {
    setVersion((n) => n + 1);
  }, []);
  const current = loaded.key === key;
  return {
    data: current ? loaded.data : undefined,
    error: current ? loaded.error : undefined,
    loading: !current || (loaded.data === undefined && loaded.error === undefined),
    reload,
  };
}

// Load something over REST, keep the last good value, and reload on demand (a reconnect, a
// trader's event). Nothing is polled: live data comes over the socket (live/).
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

/** `key` names what is loaded: a new key drops the old data at once; reload() keeps it. */
export function useResource<T>(
  load: (signal: AbortSignal) => Promise<T>,
  key: string,
): Resource<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>({ key, data: undefined, error: undefined });
  const [version, setVersion] = useState(0);
  const fetchNow = useEffectEvent(load);

  useEffect(() => {
    const abort = new AbortController();
    fetchNow(abort.signal).then(
      (data) => {
        if (!abort.signal.aborted) setLoaded({ key, data, error: undefined });
      },
      (failure: unknown) => {
        if (abort.signal.aborted) return;
        setLoaded((previous) => ({
          key,
          data: previous.key === key ? previous.data : undefined,
          error: describeError(failure),
        }));
      },
    );
    return () => {
      abort.abort();
    };
  }, [key, version]);

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

// Is the trader signed in? The cookie is HttpOnly, so ask a protected route: 401 means no.
import { useCallback, useEffect, useState } from "react";
import { ApiError, describeError, onUnauthorized, usdBalance } from "../api";
import type { SessionStatus } from "./routes";

export interface Session {
  status: SessionStatus;
  /** why the check itself failed (the server is down, say); the app offers a retry */
  error: string | undefined;
  recheck: () => void;
  signedOut: () => void;
}

export function useSession(): Session {
  const [status, setStatus] = useState<SessionStatus>("checking");
  const [error, setError] = useState<string>();
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    usdBalance(abort.signal).then(
      () => {
        setStatus("signedIn");
      },
      (failure: unknown) => {
        if (abort.signal.aborted) return;
        if (failure instanceof ApiError && failure.unauthorized) setStatus("signedOut");
        else setError(describeError(failure));
      },
    );
    return () => {
      abort.abort();
    };
  }, [attempt]);

  useEffect(
    () =>
      onUnauthorized(() => {
        setStatus("signedOut");
      }),
    [],
  );

  const recheck = useCallback(() => {
    setError(undefined);
    setStatus("checking");
    setAttempt((n) => n + 1);
  }, []);
  const signedOut = useCallback(() => {
    setStatus("signedOut");
  }, []);
  return { status, error, recheck, signedOut };
}

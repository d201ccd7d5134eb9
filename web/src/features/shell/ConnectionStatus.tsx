// Whether live data is flowing: a dot that says "Live" when the socket is open; while it is
// down, a banner that says so and why, and that it reconnects and reloads by itself.
import { useConnection } from "../../live/LiveProvider";

export function ConnectionDot() {
  const { state } = useConnection();
  return (
    <p className={`connection connection-${state}`} data-state={state}>
      <span className="dot" aria-hidden="true" />
      <span className="connection-label">
        {state === "open" ? "Live" : state === "connecting" ? "Connecting…" : "Offline"}
      </span>
    </p>
  );
}

export function ConnectionBanner() {
  const { state, detail, serverError } = useConnection();
  const down = state === "reconnecting" || state === "closed";
  return (
    <div role="status" className="connection-banner-region">
      {down && (
        <p className="connection-banner">
          Reconnecting to live updates{detail ? `: ${detail}` : ""}. Prices and positions shown may
          be out of date; they reload by themselves once connected.
        </p>
      )}
      {!down && serverError && <p className="connection-banner">Live updates: {serverError}</p>}
    </div>
  );
}

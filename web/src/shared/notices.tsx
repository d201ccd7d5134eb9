// Toasts: what happened (a fill, a close, a stop loss, a take profit, a liquidation), in a
// polite live region, liquidations in an assertive one. Each has a key: the HTTP answer of
// the trader's own action and the same event heard over the socket make one toast. Failures
// are not toasts: they are shown next to where they happened.
import { createContext, useCallback, useContext, useMemo, useRef, useState } from "react";
import type { ReactNode } from "react";
import type { OrderNotice, Tone } from "../live/orderText";

export type { Tone };

interface Notice extends OrderNotice {
  id: number;
}

type Notify = (notice: OrderNotice) => void;

const NoticeContext = createContext<Notify>(() => undefined);

export function useNotify(): Notify {
  return useContext(NoticeContext);
}

const SHOWN_MS = 10_000;
const URGENT_SHOWN_MS = 30_000;
const REMEMBERED = 200;

export function NoticeProvider({ children }: { children: ReactNode }) {
  const [notices, setNotices] = useState<Notice[]>([]);
  const next = useRef(0);
  const seen = useRef<string[]>([]);
  const dismiss = useCallback((id: number) => {
    setNotices((all) => all.filter((notice) => notice.id !== id));
  }, []);
  const notify = useCallback<Notify>(
    (notice) => {
      if (seen.current.includes(notice.key)) return;
      seen.current = [...seen.current.slice(1 - REMEMBERED), notice.key];
      const id = (next.current += 1);
      setNotices((all) => [...all.slice(-4), { ...notice, id }]);
      setTimeout(
        () => {
          dismiss(id);
        },
        notice.urgent === true ? URGENT_SHOWN_MS : SHOWN_MS,
      );
    },
    [dismiss],
  );
  const value = useMemo(() => notify, [notify]);
  const shown = (urgent: boolean) =>
    notices
      .filter((notice) => (notice.urgent === true) === urgent)
      .map((notice) => (
        <p key={notice.id} className={`notice notice-${notice.tone}`}>
          <span>{notice.text}</span>
          <button
            type="button"
            className="notice-dismiss"
            aria-label="Dismiss"
            onClick={() => {
              dismiss(notice.id);
            }}
          >
            ×
          </button>
        </p>
      ));
  return (
    <NoticeContext.Provider value={value}>
      {children}
      <div className="notices">
        <div role="alert" className="notice-stack">
          {shown(true)}
        </div>
        <div role="status" aria-live="polite" className="notice-stack">
          {shown(false)}
        </div>
      </div>
    </NoticeContext.Provider>
  );
}

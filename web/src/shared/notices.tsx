// Toasts: one polite live region for what happened (a fill, a close; §8 will add SL/TP and
// liquidations). Failures are not toasts: they are shown next to where they happened.
import { createContext, useCallback, useContext, useMemo, useRef, useState } from "react";
import type { ReactNode } from "react";

export type Tone = "info" | "gain" | "loss";

interface Notice {
  id: number;
  text: string;
  tone: Tone;
}

type Notify = (text: string, tone?: Tone) => void;

const NoticeContext = createContext<Notify>(() => undefined);

export function useNotify(): Notify {
  return useContext(NoticeContext);
}

const SHOWN_MS = 8000;

export function NoticeProvider({ children }: { children: ReactNode }) {
  const [notices, setNotices] = useState<Notice[]>([]);
  const next = useRef(0);
  const dismiss = useCallback((id: number) => {
    setNotices((all) => all.filter((notice) => notice.id !== id));
  }, []);
  const notify = useCallback<Notify>(
    (text, tone = "info") => {
      const id = (next.current += 1);
      setNotices((all) => [...all.slice(-3), { id, text, tone }]);
      setTimeout(() => {
        dismiss(id);
      }, SHOWN_MS);
    },
    [dismiss],
  );
  const value = useMemo(() => notify, [notify]);
  return (
    <NoticeContext.Provider value={value}>
      {children}
      <div className="notices" role="status" aria-live="polite">
        {notices.map((notice) => (
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
        ))}
      </div>
    </NoticeContext.Provider>
  );
}

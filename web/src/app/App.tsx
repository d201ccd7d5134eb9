import { useEffect } from "react";
import { SignInPage } from "../features/auth/SignInPage";
import { HistoryPage } from "../features/history/HistoryPage";
import { Header } from "../features/shell/Header";
import { NoticeProvider } from "../shared/notices";
import { NotFoundPage } from "../features/shell/NotFoundPage";
import { DashboardPage } from "../features/terminal/DashboardPage";
import { LiveProvider } from "../live/LiveProvider";
import { navigate, usePath } from "./router";
import { resolveRoute } from "./routes";
import { useSession } from "./session";

export function App() {
  const session = useSession();
  const path = usePath();
  const resolved = session.status === "checking" ? undefined : resolveRoute(path, session.status);

  useEffect(() => {
    if (resolved?.redirect) navigate(resolved.redirect, { replace: true });
  }, [resolved?.redirect]);

  if (resolved === undefined) {
    return (
      <main className="splash">
        {session.error === undefined ? (
          <p role="status">Loading the terminal…</p>
        ) : (
          <div role="alert">
            <p>The terminal could not start: {session.error}</p>
            <button type="button" onClick={session.recheck}>
              Try again
            </button>
          </div>
        )}
      </main>
    );
  }
  if (resolved.page === "signin") return <SignInPage />;
  return (
    <NoticeProvider>
      <LiveProvider>
        <Header onSignedOut={session.signedOut} />
        {resolved.page === "dashboard" && <DashboardPage />}
        {resolved.page === "history" && <HistoryPage />}
        {resolved.page === "notFound" && <NotFoundPage />}
      </LiveProvider>
    </NoticeProvider>
  );
}

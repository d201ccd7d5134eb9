// The history as a page of its own (/history); the terminal shows the same in a tab.
import { HistoryView } from "./HistoryView";

export function HistoryPage() {
  return (
    <main id="main" className="page">
      <h1>Trade history</h1>
      <HistoryView />
    </main>
  );
}

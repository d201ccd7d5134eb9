import { Link } from "../../app/Link";

export function NotFoundPage() {
  return (
    <main id="main" className="page">
      <h1>Page not found</h1>
      <p>
        There is nothing here. Go to the <Link href="/dashboard">terminal</Link>.
      </p>
    </main>
  );
}

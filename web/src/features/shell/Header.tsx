import { useState } from "react";
import { describeError, logout } from "../../api";
import { Link } from "../../app/Link";
import { usePath } from "../../app/router";
import { ErrorText } from "../../shared/ErrorText";
import { ConnectionBanner, ConnectionDot } from "./ConnectionStatus";

const NAV = [
  { href: "/dashboard", label: "Terminal" },
  { href: "/history", label: "History" },
] as const;

export function Header({ onSignedOut }: { onSignedOut: () => void }) {
  const path = usePath();
  const [error, setError] = useState<string>();
  const signOut = async () => {
    try {
      await logout();
      onSignedOut();
    } catch (failure) {
      setError(describeError(failure));
    }
  };
  return (
    <header className="topbar">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <span className="brand">Exness</span>
      <nav aria-label="Main">
        <ul>
          {NAV.map((item) => (
            <li key={item.href}>
              <Link href={item.href} aria-current={path === item.href ? "page" : undefined}>
                {item.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <ConnectionDot />
      <button
        type="button"
        className="ghost"
        onClick={() => {
          void signOut();
        }}
      >
        Log out
      </button>
      <ErrorText message={error} />
      <ConnectionBanner />
    </header>
  );
}

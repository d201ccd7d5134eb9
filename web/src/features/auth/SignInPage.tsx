import { useId, useState } from "react";
import { describeError } from "../../api";
import { ErrorText } from "../../shared/ErrorText";
import { requestLink, type LinkKind } from "./requestLink";

export function SignInPage() {
  const [email, setEmail] = useState("");
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string>();
  const [sent, setSent] = useState<{ email: string; kind: LinkKind }>();
  const errorId = useId();

  const submit = async () => {
    setSending(true);
    setError(undefined);
    try {
      const address = email.trim();
      setSent({ email: address, kind: await requestLink(address) });
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setSending(false);
    }
  };

  return (
    <main className="signin">
      <div className="signin-card">
        <p className="brand" aria-hidden="true">
          Exness
        </p>
        <h1>Sign in to the terminal</h1>
        {sent ? (
          <div role="status">
            <h2>Check your mail</h2>
            <p>
              We sent a link to <strong>{sent.email}</strong>
              {sent.kind === "signup" ? " that opens your account with USD 5,000.00" : ""}. It signs
              you in once, within 5 minutes.
            </p>
            <button
              type="button"
              className="link-button"
              onClick={() => {
                setSent(undefined);
              }}
            >
              Use another email
            </button>
          </div>
        ) : (
          <form
            onSubmit={(event) => {
              event.preventDefault();
              void submit();
            }}
            noValidate
          >
            <p>
              No password: we email you a sign-in link. New here? The same link opens an account.
            </p>
            <label htmlFor="email">Email</label>
            <input
              id="email"
              name="email"
              type="email"
              autoComplete="email"
              inputMode="email"
              required
              value={email}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? errorId : undefined}
              onChange={(event) => {
                setEmail(event.target.value);
              }}
            />
            <button type="submit" className="primary" disabled={sending}>
              {sending ? "Sending…" : "Email me a sign-in link"}
            </button>
            <ErrorText id={errorId} message={error} />
          </form>
        )}
      </div>
    </main>
  );
}

// Sign-up and sign-in by mailed link; the cookie is HttpOnly, so the session is learnt by
// asking a protected route (see session probe in wallet.ts).
import { request } from "./http";
import { object, string } from "./wire";

async function mailLink(path: "/signup" | "/signin", email: string): Promise<string> {
  return string(object(await request("POST", path, { body: { email } })), "message");
}

/** Mail a sign-in link to a new trader (409 USER_EXISTS when the email has an account). */
export function signUp(email: string): Promise<string> {
  return mailLink("/signup", email);
}

/** Mail a sign-in link to a known trader (404 UNKNOWN_USER otherwise). */
export function signIn(email: string): Promise<string> {
  return mailLink("/signin", email);
}

export async function logout(): Promise<void> {
  await request("POST", "/logout");
}

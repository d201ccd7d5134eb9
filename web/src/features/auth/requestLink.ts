// One form for everyone: a known email gets a sign-in link, a new one a sign-up link.
import { ApiError, signIn, signUp } from "../../api";

export type LinkKind = "signin" | "signup";

export async function requestLink(email: string): Promise<LinkKind> {
  try {
    await signIn(email);
    return "signin";
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
  await signUp(email);
  return "signup";
}

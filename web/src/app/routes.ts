// Which page a path shows, for a signed-in or signed-out trader, and where to send them.

export type Page = "signin" | "dashboard" | "history" | "notFound";
export type SessionStatus = "checking" | "signedIn" | "signedOut";

export interface Resolved {
  page: Page;
  /** replace the address with this one */
  redirect?: string;
}

const PAGES: Readonly<Record<string, Page>> = {
  "/dashboard": "dashboard",
  "/history": "history",
};

export function resolveRoute(path: string, status: Exclude<SessionStatus, "checking">): Resolved {
  const clean = path.length > 1 ? path.replace(/\/+$/, "") : path;
  if (status === "signedOut") {
    return clean === "/signin" ? { page: "signin" } : { page: "signin", redirect: "/signin" };
  }
  if (clean === "/" || clean === "/signin") return { page: "dashboard", redirect: "/dashboard" };
  return { page: PAGES[clean] ?? "notFound" };
}

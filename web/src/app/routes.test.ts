import { describe, expect, it } from "vitest";
import { resolveRoute } from "./routes";

describe("resolveRoute", () => {
  it.each([
    ["/dashboard", "signedIn", { page: "dashboard" }],
    ["/history/", "signedIn", { page: "history" }],
    ["/", "signedIn", { page: "dashboard", redirect: "/dashboard" }],
    ["/signin", "signedIn", { page: "dashboard", redirect: "/dashboard" }],
    ["/nope", "signedIn", { page: "notFound" }],
    ["/signin", "signedOut", { page: "signin" }],
    ["/dashboard", "signedOut", { page: "signin", redirect: "/signin" }],
    ["/", "signedOut", { page: "signin", redirect: "/signin" }],
  ] as const)("%s when %s", (path, status, expected) => {
    expect(resolveRoute(path, status)).toEqual(expected);
  });
});

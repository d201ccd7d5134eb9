// The typed client of the platform's API: the only place that knows URLs and wire names.
export { ApiError, describeError } from "./errors";
export { onUnauthorized } from "./http";
export { logout, signIn, signUp } from "./auth";
export { klines } from "./market";
export { closePosition, openPosition, openPositions, tradeHistory } from "./trading";
export { account, usdBalance } from "./wallet";
export { LiveSocket, type SocketState } from "./socket";
export { readLiveEvent, type LiveEvent } from "./live";
export * from "./types";

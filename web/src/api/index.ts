// The typed client of the platform's API: the only place that knows URLs and wire names.
export { ApiError, describeError } from "./errors";
export { onUnauthorized } from "./http";
export { newIdempotencyKey } from "./action";
export { logout, signIn, signUp } from "./auth";
export { klines, quotes } from "./market";
export {
  cancelOrder,
  closePosition,
  modifyLevels,
  openPositions,
  pendingOrders,
  placeOrder,
} from "./trading";
export { historyCsvUrl, tradeHistory } from "./history";
export { account, usdBalance } from "./wallet";
export { LiveSocket, type LiveMessage, type ResyncReason, type SocketState } from "./socket";
export {
  accountChannel,
  candlesChannel,
  quotesChannel,
  readLiveEvent,
  type LiveEvent,
  type OrderEvent,
} from "./live";
export * from "./types";

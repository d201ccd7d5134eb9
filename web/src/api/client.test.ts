// The REST client against a stubbed fetch: the wire's decimals arrive as exact minor units,
// bigints leave as JSON integers, failures become ApiError in the server's words.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "./errors";
import { onUnauthorized } from "./http";
import { parseJson } from "./json";
import { klines, quotes } from "./market";
import { object } from "./wire";
import { historyCsvUrl, tradeHistory } from "./history";
import {
  cancelOrder,
  closePosition,
  modifyLevels,
  openPositions,
  pendingOrders,
  placeOrder,
} from "./trading";
import { account, usdBalance } from "./wallet";
import { readLiveEvent } from "./live";

interface Call {
  url: string;
  method: string;
  body: string | undefined;
  key: string | undefined;
}

function serve(status: number, text: string): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal("fetch", (url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    calls.push({
      url,
      method: init.method ?? "GET",
      body: init.body as string | undefined,
      key: headers["idempotency-key"],
    });
    return Promise.resolve(new Response(text, { status }));
  });
  return calls;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("REST client", () => {
  it("opens a position: bigints leave as integers, decimals come back as units", async () => {
    const calls = serve(
      200,
      '{"orderId":"o1","asset":"BTC","type":"long","margin":20.00,"leverage":5,"orderType":"market",' +
        '"status":"open","openPrice":50000.0000,"liquidationPrice":40000.0000,"stopLoss":null,' +
        '"takeProfit":60000.0000,"createdAt":"2024-01-01T00:00:00Z","balance":498000}',
    );
    const placed = await placeOrder({
      asset: "BTC",
      side: "long",
      orderType: "market",
      margin: 2000n,
      leverage: 5,
      slippage: 100,
      price: 500_000_000n,
      takeProfit: 600_000_000n,
    });
    expect(calls[0]).toMatchObject({
      url: "/api/v1/trade/create",
      method: "POST",
      body:
        '{"asset":"BTC","type":"long","orderType":"market","margin":2000,"leverage":5,' +
        '"slippage":100,"price":500000000,"takeProfit":600000000}',
    });
    expect(calls[0]?.key).toMatch(/^[0-9a-f]{32}$/);
    expect(placed).toEqual({
      kind: "position",
      balance: 498_000n,
      position: {
        orderId: "o1",
        asset: "BTC",
        side: "long",
        margin: 2000n,
        leverage: 5,
        openPrice: 500_000_000n,
        liquidationPrice: 400_000_000n,
        stopLoss: null,
        takeProfit: 600_000_000n,
        currentPrice: null,
        pnl: null,
        openedAt: "2024-01-01T00:00:00Z",
      },
    });
  });

  it("places a limit order: the answer is the pending order", async () => {
    const calls = serve(
      200,
      '{"orderId":"o2","asset":"SOL","type":"short","orderType":"limit","status":"pending",' +
        '"triggerPrice":160.500000,"margin":5.00,"leverage":3,"stopLoss":170.000000,' +
        '"takeProfit":null,"createdAt":"t","balance":499500}',
    );
    const placed = await placeOrder({
      asset: "SOL",
      side: "short",
      orderType: "limit",
      margin: 500n,
      leverage: 3,
      triggerPrice: 160_500_000n,
      stopLoss: 170_000_000n,
    });
    expect(calls[0]?.body).toBe(
      '{"asset":"SOL","type":"short","orderType":"limit","margin":500,"leverage":3,' +
        '"triggerPrice":160500000,"stopLoss":170000000}',
    );
    expect(placed).toEqual({
      kind: "pending",
      balance: 499_500n,
      order: {
        orderId: "o2",
        asset: "SOL",
        side: "short",
        orderType: "limit",
        triggerPrice: 160_500_000n,
        margin: 500n,
        leverage: 3,
        stopLoss: 170_000_000n,
        takeProfit: null,
        placedAt: "t",
      },
    });
  });

  it("modifies levels: a price sets, null clears, absent keeps", async () => {
    const calls = serve(
      200,
      '{"orderId":"o1","asset":"SOL","type":"long","status":"open","margin":10,"leverage":10,' +
        '"openPrice":150,"liquidationPrice":135,"stopLoss":null,"takeProfit":160,"createdAt":"t"}',
    );
    const modified = await modifyLevels("o1", { stopLoss: null, takeProfit: 160_000_000n });
    expect(calls[0]?.body).toBe('{"orderId":"o1","stopLoss":null,"takeProfit":160000000}');
    expect(modified).toMatchObject({ kind: "position", position: { takeProfit: 160_000_000n } });
    await modifyLevels("o1", { takeProfit: 1n });
    expect(calls[1]?.body).toBe('{"orderId":"o1","takeProfit":1}');
  });

  it("lists and cancels pending orders", async () => {
    serve(
      200,
      '{"orders":[{"orderId":"o3","asset":"ETH","type":"long","orderType":"stop",' +
        '"triggerPrice":3100.5,"margin":1.5,"leverage":2,"stopLoss":null,"takeProfit":null,' +
        '"createdAt":"t"}]}',
    );
    expect(await pendingOrders()).toMatchObject([
      { orderId: "o3", orderType: "stop", triggerPrice: 3_100_500_000n, margin: 150n },
    ]);
    const calls = serve(
      200,
      '{"orderId":"o3","asset":"ETH","type":"long","orderType":"stop","status":"cancelled",' +
        '"triggerPrice":3100.5,"margin":1.5,"leverage":2,"stopLoss":null,"takeProfit":null,' +
        '"createdAt":"t","balance":500000}',
    );
    expect(await cancelOrder("o3")).toMatchObject({ orderId: "o3", balance: 500_000n });
    expect(calls[0]).toMatchObject({ url: "/api/v1/order/cancel", body: '{"orderId":"o3"}' });
  });

  it("reads open positions exactly", async () => {
    serve(
      200,
      '{"trades":[{"orderId":"o1","asset":"SOL","type":"short","margin":10.00,"leverage":30,' +
        '"openPrice":150.000000,"liquidationPrice":155.000000,"currentPrice":148.5,' +
        '"pnl":3.00,"createdAt":"2024-01-01T00:00:00Z"},' +
        '{"orderId":"o2","asset":"ETH","type":"long","margin":0.01,"leverage":1,' +
        '"openPrice":3000,"liquidationPrice":0,"currentPrice":null,"pnl":null,"createdAt":"x"}]}',
    );
    const [first, second] = await openPositions();
    expect(first).toMatchObject({
      side: "short",
      margin: 1000n,
      openPrice: 150_000_000n,
      liquidationPrice: 155_000_000n,
      currentPrice: 148_500_000n,
      pnl: 300n,
    });
    expect(second).toMatchObject({ margin: 1n, currentPrice: null, pnl: null });
  });

  it("closes part of a position, reading the close exactly", async () => {
    const calls = serve(
      200,
      '{"orderId":"o1","asset":"BTC","type":"short","margin":30.00,"leverage":4,' +
        '"openPrice":100.0000,"liquidationPrice":125.0000,"stopLoss":null,"takeProfit":null,' +
        '"createdAt":"t","closedMargin":10.00,"remainingMargin":20.00,"status":"open",' +
        '"closePrice":95.0000,"pnl":2.00,"closeReason":"manual","liquidated":false,' +
        '"closedAt":"2024-01-01T00:00:01Z","balance":498200}',
    );
    expect(await closePosition("o1", 1000n)).toEqual({
      orderId: "o1",
      asset: "BTC",
      side: "short",
      leverage: 4,
      openPrice: 1_000_000n,
      liquidationPrice: 1_250_000n,
      margin: 3000n,
      closedMargin: 1000n,
      remainingMargin: 2000n,
      status: "open",
      closePrice: 950_000n,
      pnl: 200n,
      reason: "manual",
      liquidated: false,
      closedAt: "2024-01-01T00:00:01Z",
      balance: 498_200n,
    });
    expect(calls[0]?.body).toBe('{"orderId":"o1","margin":1000}');
  });

  it("reads history with analytics and paging, from a server before §7 too", async () => {
    const calls = serve(
      200,
      '{"success":true,"data":[{"orderId":"o1","asset":"SOL","type":"long","status":"closed",' +
        '"margin":10.0000000000,"leverage":10,"openPrice":150.000000,"closePrice":151.000000,' +
        '"liquidationPrice":135.000000,"pnl":0.6700000000,"liquidated":false,' +
        '"createdAt":"2024-01-01T00:00:00Z","closedAt":"2024-01-01T00:01:00Z"}],' +
        '"analytics":{"totalTrades":1,"winRate":100.00,"totalPnl":0.67},' +
        '"pagination":{"total":1,"limit":50,"offset":0,"hasMore":false}}',
    );
    const page = await tradeHistory({}, { limit: 50, offset: 0 });
    expect(calls[0]?.url).toBe(
      "/api/v1/trade/history?limit=50&offset=0&sortBy=createdAt&sortOrder=desc",
    );
    expect(page.trades[0]).toMatchObject({
      margin: 1000n,
      pnl: 67n,
      closePrice: 151_000_000n,
      orderType: null,
      closeReason: null,
      stopLoss: null,
    });
    expect(page.analytics).toMatchObject({ totalTrades: 1, winRate: 10_000n, totalPnl: 67n });
    expect(page.analytics.closeReasons).toBeNull();
    expect(page).toMatchObject({ total: 1, hasMore: false });
  });

  it("reads §7 history: pending and cancelled orders, close reasons, closes by reason", async () => {
    serve(
      200,
      '{"success":true,"data":[{"orderId":"o2","asset":"BTC","type":"short","orderType":"limit",' +
        '"status":"closed","margin":5.00,"openMargin":0,"leverage":2,"triggerPrice":60000.0000,' +
        '"openPrice":60001.0000,"closePrice":59000.0000,"liquidationPrice":90001.5000,' +
        '"stopLoss":null,"takeProfit":59000.0000,"pnl":0.17,"liquidated":false,' +
        '"closeReason":"tp","createdAt":"a","openedAt":"b","closedAt":"c","duration":"3m"},' +
        '{"orderId":"o3","asset":"SOL","type":"long","orderType":"stop","status":"pending",' +
        '"margin":1,"leverage":1,"triggerPrice":200,"openPrice":null,"closePrice":null,' +
        '"liquidationPrice":null,"stopLoss":null,"takeProfit":null,"pnl":null,' +
        '"liquidated":false,"closeReason":null,"createdAt":"a","closedAt":null,"duration":"1s"}],' +
        '"analytics":{"totalTrades":2,"openTrades":0,"closedTrades":1,"liquidatedTrades":0,' +
        '"pendingOrders":1,"cancelledOrders":0,"profitableTrades":1,"losingTrades":0,' +
        '"winRate":100.00,"totalPnl":0.17,"totalMargin":6.00,"bestTrade":0.17,' +
        '"worstTrade":0.17,"closes":1,"closeReasons":{"manual":0,"sl":0,"tp":1,"liquidation":0}},' +
        '"pagination":{"total":2,"limit":50,"offset":0,"hasMore":false}}',
    );
    const page = await tradeHistory({ status: "any" }, { limit: 50, offset: 0 });
    expect(page.trades[0]).toMatchObject({
      orderType: "limit",
      triggerPrice: 600_000_000n,
      takeProfit: 590_000_000n,
      closeReason: "tp",
      duration: "3m",
    });
    expect(page.trades[1]).toMatchObject({ status: "pending", openPrice: null });
    expect(page.analytics).toMatchObject({
      pendingOrders: 1,
      totalMargin: 600n,
      bestTrade: 17n,
      closeReasons: { manual: 0, sl: 0, tp: 1, liquidation: 0 },
    });
  });

  it("filters history and links the CSV statement of the same rows", async () => {
    const calls = serve(
      200,
      '{"data":[],"analytics":{"totalTrades":0,"winRate":0,"totalPnl":0},' +
        '"pagination":{"total":0,"hasMore":false}}',
    );
    const filter = {
      status: "closed",
      asset: "ETH",
      side: "short",
      orderType: "limit",
      closeReason: "sl",
      fromDate: "2024-05-01",
      toDate: "2024-05-31",
    } as const;
    await tradeHistory(filter, { limit: 50, offset: 100 });
    const query =
      "status=closed&asset=ETH&tradeType=short&orderType=limit&closeReason=sl" +
      "&fromDate=2024-05-01T00%3A00%3A00Z&toDate=2024-05-31T23%3A59%3A59.999999Z";
    expect(calls[0]?.url).toBe(
      `/api/v1/trade/history?${query}&limit=50&offset=100&sortBy=createdAt&sortOrder=desc`,
    );
    expect(historyCsvUrl(filter)).toBe(
      `/api/v1/trade/history?${query}&format=csv&sortBy=createdAt&sortOrder=desc`,
    );
    expect(historyCsvUrl({})).toBe(
      "/api/v1/trade/history?format=csv&sortBy=createdAt&sortOrder=desc",
    );
  });

  it("reads candles in UTC", async () => {
    const calls = serve(
      200,
      '[{"start":"2024-05-01 12:34:00","end":"2024-05-01 12:35:00","open":"150.000000",' +
        '"high":"151.250000","low":"149.000000","close":"150.500000","volume":"0","trades":"3"}]',
    );
    const [candle] = await klines("SOL", "1m", { startTime: 100 });
    expect(calls[0]?.url).toBe("/api/v1/klines?asset=SOL&interval=1m&startTime=100");
    expect(candle).toEqual({
      time: Date.UTC(2024, 4, 1, 12, 34, 0) / 1000,
      open: 150_000_000n,
      high: 151_250_000n,
      low: 149_000_000n,
      close: 150_500_000n,
    });
  });

  it("reads the balance and the §7.6 account", async () => {
    serve(200, '{"balance":500000}');
    expect(await usdBalance()).toBe(500_000n);
    serve(
      200,
      '{"balance":1,"reserved":2,"usedMargin":3,"unrealizedPnl":-4,"equity":2,' +
        '"marginLevel":66.67,"openPositions":1,"pendingOrders":0}',
    );
    expect(await account()).toEqual({
      balance: 1n,
      reserved: 2n,
      usedMargin: 3n,
      unrealizedPnl: -4n,
      equity: 2n,
      marginLevel: 6667n,
      openPositions: 1,
      pendingOrders: 0,
    });
  });

  it("turns a failure into an ApiError with the server's words and code", async () => {
    serve(400, '{"success":false,"message":"insufficient balance","code":"INSUFFICIENT_BALANCE"}');
    const error: unknown = await usdBalance().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 400,
      message: "insufficient balance",
      code: "INSUFFICIENT_BALANCE",
    });
  });

  it("says what happened when the answer is not ours", async () => {
    serve(502, "<html>Bad gateway</html>");
    await expect(usdBalance()).rejects.toThrow("the server answered 502");
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("Failed to fetch")));
    await expect(usdBalance()).rejects.toThrow("cannot reach the server");
    serve(200, '{"balance":1.5}');
    await expect(usdBalance()).rejects.toThrow("balance is not an integer");
  });

  it("tells listeners about a 401", async () => {
    const seen = vi.fn();
    const stop = onUnauthorized(seen);
    serve(401, '{"success":false,"message":"sign in first","code":"UNAUTHENTICATED"}');
    await expect(usdBalance()).rejects.toMatchObject({ unauthorized: true });
    expect(seen).toHaveBeenCalledOnce();
    stop();
  });
});

describe("live events", () => {
  it("reads a quote and a candle", () => {
    const quote = readLiveEvent({
      channel: "quotes",
      seq: 1,
      body: { asset: "SOL", bid: "149.99", ask: "150.01", price: "150" },
    });
    expect(quote).toEqual({
      kind: "quote",
      quote: {
        asset: "SOL",
        bid: 149_990_000n,
        ask: 150_010_000n,
        price: 150_000_000n,
        ts: null,
      },
    });
    const candle = readLiveEvent({
      channel: "candles:BTC:5m",
      seq: 2,
      body: { start: "2024-05-01 12:35:00", open: "1", high: "2", low: "0.5", close: "1.5" },
    });
    expect(candle).toMatchObject({ kind: "candle", asset: "BTC", interval: "5m" });
  });

  it("reads the account channel's order events as the server sends them", () => {
    const frame = (text: string) =>
      readLiveEvent({ channel: "account", seq: 1, traderSeq: 1, body: object(parseJson(text)) });
    const closed = frame(
      '{"seq":46,"traderSeq":43,"channel":"account","type":"order","event":"closed",' +
        '"reason":"tp","orderId":"5f0c","asset":"SOL","tradeType":"long","status":"closed",' +
        '"margin":25.00,"leverage":10,"openPrice":150.010000,"liquidationPrice":135.009000,' +
        '"stopLoss":145.000000,"takeProfit":160.000000,"createdAt":"2025-12-01T02:00:00.123456Z",' +
        '"closedMargin":25.00,"remainingMargin":0.00,"closePrice":160.020000,"pnl":25.01,' +
        '"closeReason":"tp","liquidated":false,"closedAt":"2025-12-01T03:00:00.123456Z"}',
    );
    expect(closed).toEqual({
      kind: "order",
      order: {
        event: "closed",
        close: {
          orderId: "5f0c",
          asset: "SOL",
          side: "long",
          leverage: 10,
          openPrice: 150_010_000n,
          liquidationPrice: 135_009_000n,
          margin: 2500n,
          closedMargin: 2500n,
          remainingMargin: 0n,
          status: "closed",
          closePrice: 160_020_000n,
          pnl: 2501n,
          reason: "tp",
          liquidated: false,
          closedAt: "2025-12-01T03:00:00.123456Z",
        },
      },
    });
    const opened = frame(
      '{"channel":"account","type":"order","event":"filled","orderId":"o9","asset":"BTC",' +
        '"tradeType":"short","status":"open","margin":1.00,"leverage":2,"openPrice":60000.0000,' +
        '"liquidationPrice":90000.0000,"stopLoss":null,"takeProfit":null,"createdAt":"t"}',
    );
    expect(opened).toMatchObject({
      kind: "order",
      order: { event: "filled", position: { orderId: "o9", side: "short", margin: 100n } },
    });
    const placed = frame(
      '{"channel":"account","type":"order","event":"placed","orderId":"o8","asset":"ETH",' +
        '"tradeType":"long","status":"pending","orderType":"limit","triggerPrice":2900.000000,' +
        '"margin":5.00,"leverage":5,"stopLoss":null,"takeProfit":null,"createdAt":"t"}',
    );
    expect(placed).toMatchObject({
      order: { event: "placed", order: { orderType: "limit", triggerPrice: 2_900_000_000n } },
    });
    const modified = frame(
      '{"channel":"account","type":"order","event":"modified","orderId":"o8","asset":"ETH",' +
        '"tradeType":"long","status":"pending","orderType":"limit","triggerPrice":2900,' +
        '"margin":5,"leverage":5,"stopLoss":2800,"takeProfit":null,"createdAt":"t",' +
        '"modifiedAt":"u"}',
    );
    expect(modified).toMatchObject({
      order: { event: "modified", order: { stopLoss: 2_800_000_000n } },
    });
    const account = frame(
      '{"channel":"account","type":"account","balance":497500,"reserved":0,"usedMargin":2500,' +
        '"unrealizedPnl":0,"equity":500000,"marginLevel":20000.00,"openPositions":1,"pendingOrders":0}',
    );
    expect(account).toMatchObject({ kind: "account", account: { marginLevel: 2_000_000n } });
    expect(
      frame('{"channel":"account","type":"order","event":"exploded","orderId":"x"}'),
    ).toBeUndefined();
  });

  it("reads GET /quotes, leaving out assets without a price", async () => {
    serve(
      200,
      '{"quotes":[{"asset":"SOL","bid":149.99,"ask":150.01,"price":150.00,"ts":1764554400123456},' +
        '{"asset":"BTC","bid":null,"ask":null,"price":null,"ts":null}]}',
    );
    expect(await quotes()).toEqual([
      {
        asset: "SOL",
        bid: 149_990_000n,
        ask: 150_010_000n,
        price: 150_000_000n,
        ts: 1_764_554_400_123_456n,
      },
    ]);
  });
});

// The REST client against a stubbed fetch: the wire's decimals arrive as exact minor units,
// bigints leave as JSON integers, failures become ApiError in the server's words.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "./errors";
import { onUnauthorized } from "./http";
import { klines } from "./market";
import { closePosition, openPosition, openPositions, tradeHistory } from "./trading";
import { account, usdBalance } from "./wallet";
import { readLiveEvent } from "./live";

interface Call {
  url: string;
  method: string;
  body: string | undefined;
}

function serve(status: number, text: string): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal("fetch", (url: string, init: RequestInit) => {
    calls.push({ url, method: init.method ?? "GET", body: init.body as string | undefined });
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
      '{"orderId":"o1","asset":"BTC","type":"long","margin":2000,"leverage":5,' +
        '"openPrice":50000.0000,"liquidationPrice":40000.0000,"balance":498000}',
    );
    const opened = await openPosition({
      asset: "BTC",
      side: "long",
      margin: 2000n,
      leverage: 5,
      slippage: 100,
      price: 500_000_000n,
    });
    expect(calls[0]).toEqual({
      url: "/api/v1/trade/create",
      method: "POST",
      body: '{"asset":"BTC","type":"long","margin":2000,"leverage":5,"slippage":100,"price":500000000}',
    });
    expect(opened).toEqual({
      orderId: "o1",
      asset: "BTC",
      side: "long",
      openPrice: 500_000_000n,
      liquidationPrice: 400_000_000n,
      balance: 498_000n,
    });
  });

  it("leaves out a price it does not have", async () => {
    const calls = serve(
      200,
      '{"orderId":"o1","asset":"SOL","type":"short","openPrice":150,"liquidationPrice":165,"balance":1}',
    );
    await openPosition({ asset: "SOL", side: "short", margin: 1n, leverage: 10, slippage: 10 });
    expect(calls[0]?.body).not.toContain('price"');
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

  it("closes a position, reading the close price in the asset's units", async () => {
    serve(
      200,
      '{"orderId":"o1","closePrice":51000.0000,"pnl":-12.5,"liquidated":false,"balance":1}',
    );
    expect(await closePosition("o1", "BTC")).toEqual({
      orderId: "o1",
      closePrice: 510_000_000n,
      pnl: -1250n,
      liquidated: false,
      balance: 1n,
    });
  });

  it("reads history with analytics and paging", async () => {
    const calls = serve(
      200,
      '{"success":true,"data":[{"orderId":"o1","asset":"SOL","type":"long","status":"closed",' +
        '"margin":10.0000000000,"leverage":10,"openPrice":150.000000,"closePrice":151.000000,' +
        '"liquidationPrice":135.000000,"pnl":0.6700000000,"liquidated":false,' +
        '"createdAt":"2024-01-01T00:00:00Z","closedAt":"2024-01-01T00:01:00Z"}],' +
        '"analytics":{"totalTrades":1,"winRate":100.00,"totalPnl":0.67},' +
        '"pagination":{"total":1,"limit":50,"offset":0,"hasMore":false}}',
    );
    const page = await tradeHistory({ limit: 50, offset: 0 });
    expect(calls[0]?.url).toBe(
      "/api/v1/trade/history?limit=50&offset=0&sortBy=createdAt&sortOrder=desc",
    );
    expect(page.trades[0]).toMatchObject({ margin: 1000n, pnl: 67n, closePrice: 151_000_000n });
    expect(page.analytics).toEqual({ totalTrades: 1, winRate: 10_000n, totalPnl: 67n });
    expect(page).toMatchObject({ total: 1, hasMore: false });
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
      quote: { asset: "SOL", bid: 149_990_000n, ask: 150_010_000n, price: 150_000_000n },
    });
    const candle = readLiveEvent({
      channel: "candles:BTC:5m",
      seq: 2,
      body: { start: "2024-05-01 12:35:00", open: "1", high: "2", low: "0.5", close: "1.5" },
    });
    expect(candle).toMatchObject({ kind: "candle", asset: "BTC", interval: "5m" });
  });
});

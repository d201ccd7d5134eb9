// Integer division on bigints with the roundings the engine uses (src/exness/domain/money.py).
// bigint `/` truncates toward zero; these floor, ceil and round half-to-even instead.

export function floorDiv(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError("division by zero");
  const quotient = numerator / denominator;
  const inexact = numerator % denominator !== 0n;
  return inexact && numerator < 0n !== denominator < 0n ? quotient - 1n : quotient;
}

export function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return -floorDiv(-numerator, denominator);
}

/** `numerator / denominator` to the nearest integer, ties to even. */
export function divRoundHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError("division by zero");
  if (denominator < 0n) {
    numerator = -numerator;
    denominator = -denominator;
  }
  let quotient = floorDiv(numerator, denominator);
  const twice = 2n * (numerator - quotient * denominator); // 0 <= remainder < denominator
  if (twice > denominator || (twice === denominator && quotient % 2n !== 0n)) quotient += 1n;
  return quotient;
}

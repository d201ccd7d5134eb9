import { INTERVALS, type Interval } from "../../api";

export function IntervalButtons({
  value,
  onChange,
}: {
  value: Interval;
  onChange: (interval: Interval) => void;
}) {
  return (
    <div className="intervals" role="group" aria-label="Candle interval">
      {INTERVALS.map((interval) => (
        <button
          key={interval}
          type="button"
          aria-pressed={interval === value}
          onClick={() => {
            onChange(interval);
          }}
        >
          {interval}
        </button>
      ))}
    </div>
  );
}

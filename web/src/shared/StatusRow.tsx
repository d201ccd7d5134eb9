/** The one row of a table body that has no rows yet: still loading, or none to show. */
export function StatusRow({
  rows,
  columns,
  loading,
  empty,
}: {
  rows: readonly unknown[] | undefined;
  columns: number;
  loading?: string;
  empty: string;
}) {
  const text = rows === undefined ? loading : rows.length === 0 ? empty : undefined;
  if (text === undefined) return null;
  return (
    <tr>
      <td colSpan={columns} className="muted">
        {text}
      </td>
    </tr>
  );
}

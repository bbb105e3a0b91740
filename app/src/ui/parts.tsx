import type { ComponentChildren } from 'preact';
import type { Loaded } from './load.js';

/**
 * A refusal or failure, in the server's words (a 403's OperationOutcome text), as an alert the
 * screen reader announces: the page stays whole.
 * @param props - Status and message.
 * @returns The notice.
 */
export function Refusal(props: { status: number; message: string }) {
  const title = props.status === 403 ? 'Not allowed for your role' : props.status === 401 ? 'Your sign-in has expired' : 'Something went wrong';
  return (
    <div class="refusal" role="alert" data-status={props.status}>
      <h2>{title}</h2>
      <p class="refusal-text">{props.message}</p>
    </div>
  );
}

/**
 * Renders a load state: a spinner line, the refusal, or the children with the value.
 * @param props - The state and a render function.
 * @returns The view.
 */
export function Await<T>(props: { loaded: Loaded<T>; children: (value: T) => ComponentChildren }) {
  const { loaded } = props;
  if (loaded.state === 'loading') return <p class="loading" aria-live="polite">Loading…</p>;
  if (loaded.state === 'error') return <Refusal status={loaded.status} message={loaded.message} />;
  return <>{props.children(loaded.value)}</>;
}

/**
 * A table under a plot: the numbers one table away (issue 16), collapsed by default.
 * @param props - Caption, column headers, rows.
 * @returns The table.
 */
export function DataTable(props: { caption: string; columns: readonly string[]; rows: readonly (readonly (string | number)[])[]; open?: boolean; testId?: string }) {
  return (
    <details class="data-table" open={props.open}>
      <summary>Numbers: {props.caption}</summary>
      <table data-testid={props.testId}>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row, i) => (
            <tr key={i}>
              {row.map((cell, j) => (
                <td key={j}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

/**
 * A state badge: text and a class per state (colour is never the only carrier: the word is there).
 * @param props - State code and its words.
 * @returns The badge.
 */
export function Badge(props: { state: string; words?: string }) {
  return <span class={`badge badge-${props.state}`}>{props.words ?? props.state}</span>;
}

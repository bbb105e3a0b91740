import type { Group, Observation, Parameters, ResearchSubject, Task } from '@medplum/fhirtypes';
import { useState } from 'preact/hooks';
import { fhirRequest, granted, searchAll, type FhirSession } from '../fhir.js';
import { resultWords, reviewView, settledWords, whyWords, type ReviewView } from '../model/review.js';
import { criterionWords, ENROLLED_STATUSES } from '../model/worklist.js';
import { errorState, useLoad } from '../ui/load.js';
import { Await, Refusal } from '../ui/parts.js';
import { ELIGIBILITY_GROUP } from './worklist.js';

interface Queue {
  readonly items: readonly ReviewView[];
  /** Subjects the study has taken on, for the links to their pages (pseudonym, status). */
  readonly subjects: readonly { readonly pseudonym: string; readonly status: string }[];
  /** Each focus's result now, by reference. */
  readonly results: ReadonlyMap<string, Observation>;
}

async function readFocus(session: FhirSession, reference: string | undefined): Promise<Observation | undefined> {
  if (!reference?.startsWith('Observation/') || !granted(session.scopes, 'Observation', 'r')) return undefined;
  return fhirRequest<Observation>(session, reference).catch(() => undefined);
}

async function loadQueue(session: FhirSession): Promise<Queue> {
  const tasks = await searchAll<Task>(session, 'Task?status=requested&_count=500');
  const enrolled = granted(session.scopes, 'ResearchSubject', 's') ? await searchAll<ResearchSubject>(session, 'ResearchSubject?_count=1000').catch(() => []) : [];
  const subjects = enrolled
    .filter((r) => ENROLLED_STATUSES.has(r.status))
    .map((r) => ({ pseudonym: r.individual?.reference?.replace(/^Patient\//, '') ?? '', status: r.status }))
    .filter((r) => r.pseudonym.length > 0)
    .sort((a, b) => a.pseudonym.localeCompare(b.pseudonym));
  const group = granted(session.scopes, 'Group', 'r') ? await fhirRequest<Group>(session, `Group/${ELIGIBILITY_GROUP}`).catch(() => undefined) : undefined;
  const words = criterionWords(group);
  // Score items first (they hold up a subject's SRI-4), then criteria; by subject within each.
  const rank = (q: string): number => (q === 'review-eligibility-criterion' ? 1 : 0);
  const items = tasks.map((t) => reviewView(t, words)).sort((a, b) => rank(a.question) - rank(b.question) || a.subject.localeCompare(b.subject) || a.date.localeCompare(b.date));
  const focuses = [...new Set(items.flatMap((i) => (i.focus ? [i.focus] : [])))];
  const results = new Map<string, Observation>();
  await Promise.all(
    focuses.map(async (f) => {
      const o = await readFocus(session, f);
      if (o) results.set(f, o);
    }),
  );
  return { items, results, subjects };
}

/**
 * The investigator's review queue (issue 11, 16): every requested Task, settled here with a decision
 * and a reason through `POST Task/{id}/$settle`; the recomputed result of the Task's focus then shows.
 * @param props - The session.
 * @returns The page.
 */
export function Review(props: { session: FhirSession }) {
  const [loaded] = useLoad(() => loadQueue(props.session), 'review');
  return (
    <>
      <h1>Review queue</h1>
      <p>Items the data cannot decide. Your decision is stored as study data and the subject is recomputed.</p>
      <Await loaded={loaded}>
        {(queue) => (
          <>
            {queue.subjects.length > 0 && (
              <nav aria-labelledby="subjects-h" class="subjects">
                <h2 id="subjects-h">Subjects on study</h2>
                <ul>
                  {queue.subjects.map((s) => (
                    <li key={s.pseudonym}>
                      <a href={`#/subject/${s.pseudonym}`}>{s.pseudonym}</a> <span class="kind">({s.status})</span>
                    </li>
                  ))}
                </ul>
              </nav>
            )}
            <h2>Open items ({queue.items.length})</h2>
            {queue.items.length === 0 ? (
              <p role="status">Nothing to review.</p>
            ) : (
              <ul class="tasks" data-testid="tasks">
                {queue.items.map((item) => (
                  <TaskCard key={item.id} session={props.session} item={item} result={item.focus ? queue.results.get(item.focus) : undefined} />
                ))}
              </ul>
            )}
          </>
        )}
      </Await>
    </>
  );
}

function TaskCard(props: { session: FhirSession; item: ReviewView; result: Observation | undefined }) {
  const { item, session } = props;
  const [decision, setDecision] = useState('');
  const [reason, setReason] = useState('');
  const [result, setResult] = useState(props.result);
  const [state, setState] = useState<{ kind: 'open' } | { kind: 'busy' } | { kind: 'settled'; words: string } | { kind: 'refused'; status: number; message: string }>({ kind: 'open' });
  const idBase = `task-${item.id}`;

  const settle = async (): Promise<void> => {
    setState({ kind: 'busy' });
    const before = result?.meta?.versionId;
    const value = item.decisions === 'dose' ? { valueQuantity: { value: Number(decision), unit: 'mg/d', system: 'http://unitsofmeasure.org', code: 'mg/d' } } : { valueCode: decision };
    const body: Parameters = {
      resourceType: 'Parameters',
      parameter: [{ name: 'decision', ...value }, ...(reason.trim() ? [{ name: 'reason', valueString: reason.trim() }] : [])],
    };
    try {
      const task = await fhirRequest<Task>(session, `Task/${encodeURIComponent(item.id)}/$settle`, { method: 'POST', body });
      // The recompute follows the decision's event: at once locally, within seconds in AWS. Read the
      // focus again until its version moves (or give up after ~10 s and show what is there).
      let now = await readFocus(session, item.focus);
      for (let i = 0; i < 20 && now && now.meta?.versionId === before; i++) {
        await new Promise((r) => setTimeout(r, 500));
        now = await readFocus(session, item.focus);
      }
      setResult(now);
      setState({ kind: 'settled', words: settledWords(task) });
    } catch (err) {
      const e = errorState(err);
      setState({ kind: 'refused', status: e.status, message: e.message });
    }
  };

  return (
    <li class="task" data-task={item.id} data-state={state.kind}>
      <h3>
        {item.questionWords}: {item.item}
      </h3>
      <dl>
        <dt>Subject</dt>
        <dd>
          <a href={`#/subject/${item.subject}`}>{item.subject}</a> (<a href={`#/worklist/${item.subject}`}>worklist entry</a>)
        </dd>
        {item.date !== '—' && (
          <>
            <dt>Visit and date</dt>
            <dd>
              {item.visit}, {item.date}
            </dd>
          </>
        )}
        <dt>Why the data cannot decide</dt>
        <dd>{whyWords(props.result, item)}</dd>
        <dt>Evidence</dt>
        <dd>{item.evidence} record(s)</dd>
        <dt>Result now</dt>
        <dd data-testid="result">{resultWords(result, item.itemCode)}</dd>
      </dl>
      {state.kind === 'settled' ? (
        <p role="status" class="settled">
          Settled: {state.words}. The result above is the recomputed one.
        </p>
      ) : (
        <form
          class="settle"
          onSubmit={(e) => {
            e.preventDefault();
            void settle();
          }}
        >
          <fieldset disabled={state.kind === 'busy'}>
            <legend>Your decision</legend>
            {item.decisions === 'dose' ? (
              <label>
                Prednisone-equivalent dose (mg/day){' '}
                <input type="number" min="0" step="0.5" required value={decision} onInput={(e) => setDecision((e.target as HTMLInputElement).value)} />
              </label>
            ) : (
              item.decisions.map((d) => (
                <label key={d.code} class="choice">
                  <input type="radio" name={`${idBase}-decision`} value={d.code} required checked={decision === d.code} onChange={() => setDecision(d.code)} /> {d.words}
                </label>
              ))
            )}
            <label class="reason">
              Reason (optional){' '}
              <textarea rows={2} maxLength={1000} value={reason} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} />
            </label>
            <button type="submit">Settle</button>
          </fieldset>
          {state.kind === 'refused' && <Refusal status={state.status} message={state.message} />}
        </form>
      )}
    </li>
  );
}

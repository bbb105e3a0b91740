import type { Group, Observation, Parameters, Resource, ResearchSubject, Task } from '@medplum/fhirtypes';
import { useState } from 'preact/hooks';
import { fhirRequest, granted, searchAll, type FhirSession } from '../fhir.js';
import { evidenceView, type EvidenceView } from '../model/evidence.js';
import { CRITERION_STATE_WORDS, filterWorklist, worklistEntries, type WorklistEntry, type WorklistFilter } from '../model/worklist.js';
import { formatInstant } from '../study.js';
import { errorState, useLoad } from '../ui/load.js';
import { Await, Badge, Refusal } from '../ui/parts.js';

/** The eligibility Group's id (fhir-profiles/Group). */
export const ELIGIBILITY_GROUP = 'nct04893161-eligibility';

const STATE_WORDS: Record<string, string> = { eligible: 'Eligible', candidate: 'Candidate', ineligible: 'Ineligible' };

/**
 * Loads what the worklist needs: the eligibility Group (words and the canonical base), every
 * screening Observation, and the review Tasks.
 * @param session - The session.
 * @returns The entries.
 */
async function loadWorklist(session: FhirSession): Promise<WorklistEntry[]> {
  const group = await fhirRequest<Group>(session, `Group/${ELIGIBILITY_GROUP}`);
  const system = group.characteristic?.[0]?.code.coding?.[0]?.system ?? '';
  const [screenings, tasks, subjects] = await Promise.all([
    searchAll<Observation>(session, `Observation?code=${encodeURIComponent(`${system}|eligibility-screening`)}&_count=500`),
    searchAll<Task>(session, `Task?status=requested&_count=500`),
    searchAll<ResearchSubject>(session, 'ResearchSubject?_count=1000'),
  ]);
  return worklistEntries(screenings, group, tasks, subjects);
}

/**
 * The recruitment worklist (issue 16): candidates and eligible patients by pseudonym, newest change
 * first, with filters by state and open review; `#/worklist/{pseudonym}` opens one entry.
 * @param props - Session and the open entry.
 * @returns The page.
 */
export function Worklist(props: { session: FhirSession; pseudonym: string | undefined }) {
  const [loaded] = useLoad(() => loadWorklist(props.session), 'worklist');
  const [filter, setFilter] = useState<WorklistFilter>({ state: 'active', openReviewOnly: false });
  return (
    <>
      <h1>Recruitment worklist</h1>
      <Await loaded={loaded}>
        {(entries) => {
          const open = props.pseudonym ? entries.find((e) => e.pseudonym === props.pseudonym) : undefined;
          if (props.pseudonym) {
            return open ? (
              <EntryDetail session={props.session} entry={open} />
            ) : (
              <p role="status">
                No screening result for {props.pseudonym}. <a href="#/worklist">Back to the worklist</a>
              </p>
            );
          }
          const shown = filterWorklist(entries, filter);
          return (
            <>
              <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter the worklist">
                <label>
                  State{' '}
                  <select
                    value={filter.state}
                    onChange={(e) => setFilter({ ...filter, state: (e.target as HTMLSelectElement).value as WorklistFilter['state'] })}
                    data-testid="state-filter"
                  >
                    <option value="active">Candidates and eligible, not enrolled</option>
                    <option value="candidate">Candidates</option>
                    <option value="eligible">Eligible</option>
                    <option value="ineligible">Ineligible</option>
                    <option value="all">Every screened patient</option>
                  </select>
                </label>
                <label>
                  <input
                    type="checkbox"
                    checked={filter.openReviewOnly}
                    onChange={(e) => setFilter({ ...filter, openReviewOnly: (e.target as HTMLInputElement).checked })}
                    data-testid="review-filter"
                  />{' '}
                  Only with an open review
                </label>
                <p class="count" aria-live="polite">
                  {shown.length} of {entries.length} screened patients
                </p>
              </form>
              <table class="worklist" data-testid="worklist">
                <caption>Screened patients, newest change first</caption>
                <thead>
                  <tr>
                    <th scope="col">Pseudonym</th>
                    <th scope="col">State</th>
                    <th scope="col">Changed</th>
                    <th scope="col">Study status</th>
                    <th scope="col">Criteria still open</th>
                    <th scope="col">Open reviews</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((e) => (
                    <tr key={e.pseudonym} data-pseudonym={e.pseudonym}>
                      <th scope="row">
                        <a href={`#/worklist/${e.pseudonym}`}>{e.pseudonym}</a>
                      </th>
                      <td>
                        <Badge state={e.state} words={STATE_WORDS[e.state]} />
                      </td>
                      <td>{formatInstant(e.changed)}</td>
                      <td>{e.studyStatus ?? '—'}</td>
                      <td>
                        {e.criteria
                          .filter((c) => c.state === 'unknown' || c.state === 'review')
                          .map((c) => `${c.text.split(/[:(]/)[0]?.trim()} (${CRITERION_STATE_WORDS[c.state] ?? c.state})`)
                          .join('; ') || 'none'}
                      </td>
                      <td>{e.openReviews}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          );
        }}
      </Await>
    </>
  );
}

/**
 * Reads the evidence records the role may read (the others are listed by reference alone, so no
 * request is made that the layer would refuse).
 * @param session - The session.
 * @param references - `Type/id` references.
 * @returns One view per reference.
 */
async function loadEvidence(session: FhirSession, references: readonly string[]): Promise<Map<string, EvidenceView>> {
  const unique = [...new Set(references)];
  const views = await Promise.all(
    unique.map(async (reference) => {
      const type = reference.split('/')[0] ?? '';
      const resource = granted(session.scopes, type, 'r') ? await fhirRequest<Resource>(session, reference).catch(() => undefined) : undefined;
      return [reference, evidenceView(reference, resource)] as const;
    }),
  );
  return new Map(views);
}

function EntryDetail(props: { session: FhirSession; entry: WorklistEntry }) {
  const { entry, session } = props;
  const [evidence] = useLoad(() => loadEvidence(session, entry.criteria.flatMap((c) => c.evidence)), `evidence-${entry.pseudonym}`);
  return (
    <article aria-labelledby="entry-title">
      <p>
        <a href="#/worklist">← Back to the worklist</a>
      </p>
      <h2 id="entry-title">
        {entry.pseudonym} <Badge state={entry.state} words={STATE_WORDS[entry.state]} />
      </h2>
      <p>
        Screening result changed {formatInstant(entry.changed)}; {entry.openReviews} open review{entry.openReviews === 1 ? '' : 's'}.
      </p>
      <RevealIdentity session={session} pseudonym={entry.pseudonym} />
      <table class="criteria" data-testid="criteria">
        <caption>Every criterion, in the registry's words</caption>
        <thead>
          <tr>
            <th scope="col">Criterion</th>
            <th scope="col">State</th>
            <th scope="col">Why</th>
            <th scope="col">Evidence (value, unit, date)</th>
          </tr>
        </thead>
        <tbody>
          {entry.criteria.map((c) => (
            <tr key={c.code} data-criterion={c.code}>
              <th scope="row">
                <span class="kind">{c.kind === 'inclusion' ? 'Inclusion' : 'Exclusion'}:</span> {c.text}
              </th>
              <td>
                <Badge state={c.state} words={CRITERION_STATE_WORDS[c.state]} />
              </td>
              <td>{c.reason}</td>
              <td>
                {c.evidence.length === 0
                  ? '—'
                  : evidence.state === 'done'
                    ? c.evidence.map((r) => {
                        const v = evidence.value.get(r);
                        return (
                          <div key={r} class="evidence">
                            {v ? `${v.what}: ${v.value}${v.date === '—' ? '' : `, ${v.date}`}` : r}
                          </div>
                        );
                      })
                    : `${c.evidence.length} record${c.evidence.length === 1 ? '' : 's'}`}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </article>
  );
}

/**
 * The one deliberate reveal of a hospital identity (`GET Patient/{pseudonym}/$hospital-identity`,
 * scope `recruitment/identity.read`, an AuditEvent per look-up). The answer lives in this component's
 * state only: never in storage, the URL or a cache (the layer answers `no-store`), and gone when the
 * page changes.
 * @param props - Session and pseudonym.
 * @returns The control.
 */
function RevealIdentity(props: { session: FhirSession; pseudonym: string }) {
  const [state, setState] = useState<{ kind: 'hidden' } | { kind: 'busy' } | { kind: 'shown'; system: string; patient: string } | { kind: 'refused'; status: number; message: string }>({
    kind: 'hidden',
  });
  const reveal = async (): Promise<void> => {
    setState({ kind: 'busy' });
    try {
      const p = await fhirRequest<Parameters>(props.session, `Patient/${encodeURIComponent(props.pseudonym)}/$hospital-identity`);
      const system = p.parameter?.find((x) => x.name === 'sourceSystem')?.valueUri ?? '';
      const patient = p.parameter?.find((x) => x.name === 'patient')?.valueReference?.reference ?? '';
      setState({ kind: 'shown', system, patient });
    } catch (err) {
      const e = errorState(err);
      setState({ kind: 'refused', status: e.status, message: e.message });
    }
  };
  return (
    <section class="reveal" aria-labelledby="reveal-title">
      <h3 id="reveal-title">Hospital identity</h3>
      {state.kind === 'shown' ? (
        <>
          <dl data-testid="hospital-identity">
            <dt>Hospital system</dt>
            <dd>{state.system}</dd>
            <dt>Hospital patient record</dt>
            <dd>{state.patient}</dd>
          </dl>
          <button type="button" onClick={() => setState({ kind: 'hidden' })}>
            Hide hospital identity
          </button>
        </>
      ) : (
        <>
          <p>Hidden. Revealing it is recorded in the audit trail.</p>
          <button type="button" onClick={() => void reveal()} disabled={state.kind === 'busy'} data-testid="reveal">
            Reveal hospital identity
          </button>
          {state.kind === 'refused' && <Refusal status={state.status} message={state.message} />}
        </>
      )}
    </section>
  );
}

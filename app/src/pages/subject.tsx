import * as Plot from '@observablehq/plot';
import type { Observation, Patient, ResearchSubject } from '@medplum/fhirtypes';
import type { MedicationResource } from '../../../lambdas/derive/core/medications.js';
import { fhirRequest, searchAll, type FhirSession } from '../fhir.js';
import { subjectTimeline, type SeriesPoint, type SubjectTimeline } from '../model/subject.js';
import { formatNumber, visitLabel } from '../study.js';
import { useLoad } from '../ui/load.js';
import { Await, Badge, DataTable } from '../ui/parts.js';
import { PlotFigure } from '../ui/plot-figure.js';

const WIDTH = 720;
const date = (d: { date: string }): Date => new Date(`${d.date}T00:00:00Z`);

interface SubjectData {
  readonly patient: Patient;
  readonly status: string | undefined;
  readonly timeline: SubjectTimeline;
}

async function loadSubject(session: FhirSession, pseudonym: string): Promise<SubjectData> {
  const id = encodeURIComponent(pseudonym);
  // The Patient first: a role without Patient read (or an unknown pseudonym) gets its refusal at once.
  const patient = await fhirRequest<Patient>(session, `Patient/${id}`);
  const [observations, admin, requests, statements, subjects] = await Promise.all([
    searchAll<Observation>(session, `Observation?patient=${id}&_count=1000`),
    searchAll<MedicationResource>(session, `MedicationAdministration?patient=${id}&_count=1000`),
    searchAll<MedicationResource>(session, `MedicationRequest?patient=${id}&_count=1000`),
    searchAll<MedicationResource>(session, `MedicationStatement?patient=${id}&_count=1000`),
    searchAll<ResearchSubject>(session, `ResearchSubject?individual=${id}`),
  ]);
  return { patient, status: subjects[0]?.status, timeline: subjectTimeline(observations, [...admin, ...requests, ...statements]) };
}

/**
 * A subject's visits on a timeline (issue 16): SLEDAI-2K per visit (partial scores marked), SRI-4
 * per post-baseline visit with its reasons, BILAG-2004 grades, PGA, prednisone-equivalent dose, C3,
 * C4, anti-dsDNA and the B-cell markers, and the early prediction with each feature's contribution.
 * @param props - Session and pseudonym.
 * @returns The page.
 */
/**
 * One time axis for every timeline of the subject, so that a visit sits at the same place in each plot.
 * @param t - The timeline.
 * @returns [first, last] date.
 */
function timeDomain(t: SubjectTimeline): [Date, Date] | undefined {
  const times = [...t.sledai, ...t.sri4, ...t.pga, ...t.labs, ...t.bcells, ...t.dose].map((p) => date(p).getTime()).filter((n) => !Number.isNaN(n));
  return times.length > 0 ? [new Date(Math.min(...times)), new Date(Math.max(...times))] : undefined;
}

export function Subject(props: { session: FhirSession; pseudonym: string }) {
  const [loaded] = useLoad(() => loadSubject(props.session, props.pseudonym), `subject-${props.pseudonym}`);
  return (
    <>
      <h1>Subject {props.pseudonym}</h1>
      <Await loaded={loaded}>
        {(data) => (
          <>
            <p>
              {data.patient.gender ? `${data.patient.gender}, ` : ''}
              {data.patient.birthDate ? `born ${data.patient.birthDate}` : ''}
              {data.status ? (
                <>
                  {' · study status '}
                  <Badge state={data.status} />
                </>
              ) : null}
            </p>
            <SledaiSection t={data.timeline} x={timeDomain(data.timeline)} />
            <SriSection t={data.timeline} x={timeDomain(data.timeline)} />
            <BilagPgaSection t={data.timeline} x={timeDomain(data.timeline)} />
            <SeriesSection
              title="Prednisone-equivalent dose"
              id="dose"
              points={data.timeline.dose}
              curve="step-after"
              x={timeDomain(data.timeline)}
              empty="No glucocorticoid on record."
              note="The dose in effect on each date by the study's rule D10 (each product's latest covering record, summed)."
            />
            <SeriesSection title="Complement and anti-dsDNA" id="labs" x={timeDomain(data.timeline)} points={data.timeline.labs} empty="No C3, C4 or anti-dsDNA result." />
            <SeriesSection title="B-cell phenotype markers" id="bcells" x={timeDomain(data.timeline)} points={data.timeline.bcells} empty="No B-cell phenotype result." />
            <PredictionSection t={data.timeline} />
          </>
        )}
      </Await>
    </>
  );
}

function SledaiSection(props: { t: SubjectTimeline; x: [Date, Date] | undefined }) {
  const points = props.t.sledai;
  const totals = points.filter((p) => !p.partial);
  const partials = points.filter((p) => p.partial);
  return (
    <section aria-labelledby="sledai-h">
      <h2 id="sledai-h">SLEDAI-2K per visit</h2>
      {points.length === 0 ? (
        <p>No SLEDAI-2K score yet.</p>
      ) : (
        <>
          <p class="legend">
            <span class="key key-total">●</span> total · <span class="key key-partial">△</span> partial score (a lower bound: descriptors missing or undecided)
          </p>
          <PlotFigure
            label={`SLEDAI-2K per visit: ${totals.length} totals, ${partials.length} partial scores`}
            testId="sledai-plot"
            deps={[points]}
            build={() =>
              Plot.plot({
                width: WIDTH,
                height: 240,
                marginLeft: 48,
                x: { type: 'utc', label: 'Date', domain: props.x },
                y: { label: 'SLEDAI-2K', grid: true, domain: [0, Math.max(10, ...points.map((p) => p.value)) + 2] },
                marks: [
                  Plot.ruleY([4], { stroke: '#767676', strokeDasharray: '4 3' }),
                  Plot.line(totals, { x: date, y: 'value', stroke: '#1f4e8c' }),
                  Plot.dot(totals, { x: date, y: 'value', fill: '#1f4e8c', r: 5, className: 'sledai-total', title: (d: (typeof totals)[number]) => `${visitLabel(d.visit)} ${d.date}: total ${d.value}` }),
                  Plot.dot(partials, {
                    x: date,
                    y: 'value',
                    symbol: 'triangle',
                    stroke: '#a3470a',
                    fill: 'white',
                    strokeWidth: 2,
                    r: 6,
                    className: 'sledai-partial',
                    title: (d: (typeof partials)[number]) => `${visitLabel(d.visit)} ${d.date}: partial, at least ${d.value}`,
                  }),
                  Plot.tip(points, Plot.pointerX({ x: date, y: 'value', title: (d: (typeof points)[number]) => `${visitLabel(d.visit)} ${d.date}\n${d.partial ? `partial, ≥ ${d.value}` : `total ${d.value}`}` })),
                ],
              })
            }
          />
          <DataTable
            caption="SLEDAI-2K per visit"
            testId="sledai-table"
            columns={['Visit', 'Date', 'Score', 'Kind', 'Missing or undecided']}
            rows={points.map((p) => [visitLabel(p.visit), p.date, p.value, p.partial ? 'partial (lower bound)' : 'total', p.missing.join(', ') || '—'])}
          />
        </>
      )}
    </section>
  );
}

function SriSection(props: { t: SubjectTimeline; x: [Date, Date] | undefined }) {
  const rows = props.t.sri4;
  const level = (o: string): number => (o === 'responder' ? 1 : o === 'non-responder' ? 0 : 0.5);
  return (
    <section aria-labelledby="sri-h">
      <h2 id="sri-h">SRI-4 per post-baseline visit</h2>
      {rows.length === 0 ? (
        <p>No SRI-4 result yet.</p>
      ) : (
        <>
          <PlotFigure
            label={`SRI-4 at ${rows.length} visits`}
            testId="sri-plot"
            deps={[rows]}
            build={() =>
              Plot.plot({
                width: WIDTH,
                height: 150,
                marginLeft: 110,
                x: { type: 'utc', label: 'Date', domain: props.x },
                y: { domain: [0, 0.5, 1], tickFormat: (v: number) => (v === 1 ? 'responder' : v === 0 ? 'non-responder' : 'not evaluable'), label: null },
                marks: [
                  Plot.dot(rows, {
                    x: date,
                    y: (d: (typeof rows)[number]) => level(d.outcome),
                    r: 6,
                    fill: (d: (typeof rows)[number]) => (d.outcome === 'responder' ? '#1b7f3b' : d.outcome === 'non-responder' ? '#b3261e' : '#767676'),
                    symbol: (d: (typeof rows)[number]) => (d.primary ? 'star' : 'circle'),
                    className: 'sri4',
                    title: (d: (typeof rows)[number]) => `${visitLabel(d.visit)}: ${d.outcomeWords}${d.reasons.length ? `\n${d.reasons.join('\n')}` : ''}`,
                    tip: true,
                  }),
                ],
              })
            }
          />
          <table data-testid="sri-table">
            <caption>SRI-4 by visit, with the reasons (★ on the plot: week 48, the primary endpoint)</caption>
            <thead>
              <tr>
                <th scope="col">Visit</th>
                <th scope="col">Date</th>
                <th scope="col">Result</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.date + r.visit}>
                  <th scope="row">
                    {visitLabel(r.visit)}
                    {r.primary ? ' (primary endpoint)' : ''}
                  </th>
                  <td>{r.date}</td>
                  <td>
                    <Badge state={r.outcome} words={r.outcomeWords} />
                  </td>
                  <td>{r.reasons.join('; ') || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function BilagPgaSection(props: { t: SubjectTimeline; x: [Date, Date] | undefined }) {
  const { bilag, pga } = props.t;
  const gradeColor: Record<string, string> = { A: '#b3261e', B: '#d9822b', C: '#e8c547', D: '#9ecae1', E: '#dfe7ee' };
  return (
    <section aria-labelledby="bilag-h">
      <h2 id="bilag-h">BILAG-2004 and physician's global assessment</h2>
      {bilag.length === 0 ? (
        <p>No BILAG-2004 assessment.</p>
      ) : (
        <PlotFigure
          label={`BILAG-2004 grades, ${bilag.length} domain assessments`}
          testId="bilag-plot"
          deps={[bilag]}
          build={() =>
            Plot.plot({
              width: WIDTH,
              height: 60 + 22 * new Set(bilag.map((b) => b.domain)).size,
              marginLeft: 130,
              x: { label: 'Visit', domain: [...new Set(bilag.map((b) => visitLabel(b.visit)))] },
              y: { label: null },
              color: { domain: Object.keys(gradeColor), range: Object.values(gradeColor) },
              marks: [
                Plot.cell(bilag, { x: (d: (typeof bilag)[number]) => visitLabel(d.visit), y: 'domain', fill: 'grade', title: (d: (typeof bilag)[number]) => `${d.domain} ${d.date}: ${d.grade}` }),
                Plot.text(bilag, { x: (d: (typeof bilag)[number]) => visitLabel(d.visit), y: 'domain', text: 'grade', fill: 'black' }),
              ],
            })
          }
        />
      )}
      {pga.length > 0 && (
        <PlotFigure
          label={`PGA at ${pga.length} visits`}
          testId="pga-plot"
          deps={[pga]}
          build={() =>
            Plot.plot({
              width: WIDTH,
              height: 180,
              marginLeft: 48,
              x: { type: 'utc', label: 'Date', domain: props.x },
              y: { label: 'PGA (0–3)', domain: [0, 3], grid: true },
              marks: [Plot.line(pga, { x: date, y: 'value', stroke: '#1f4e8c' }), Plot.dot(pga, { x: date, y: 'value', fill: '#1f4e8c', tip: true, title: (d: SeriesPoint) => `${d.date}: PGA ${d.value}` })],
            })
          }
        />
      )}
      <DataTable
        caption="BILAG-2004 grades and PGA"
        columns={['Visit', 'Date', 'Item', 'Value']}
        rows={[...bilag.map((b) => [visitLabel(b.visit), b.date, `BILAG ${b.domain}`, b.grade]), ...pga.map((p) => [visitLabel(p.visit), p.date, 'PGA', formatNumber(p.value)])]}
      />
    </section>
  );
}

function SeriesSection(props: { title: string; id: string; points: readonly SeriesPoint[]; empty: string; note?: string; curve?: 'step-after'; x: [Date, Date] | undefined }) {
  const { points } = props;
  const series = [...new Set(points.map((p) => p.series))];
  // One small chart per series (units never share a y axis), all on the subject's one time axis.
  const xDomain = props.x;
  return (
    <section aria-labelledby={`${props.id}-h`} data-testid={`${props.id}-section`}>
      <h2 id={`${props.id}-h`}>{props.title}</h2>
      {props.note && <p class="note">{props.note}</p>}
      {points.length === 0 ? (
        <p>{props.empty}</p>
      ) : (
        <>
          {series.map((name) => {
            const of = points.filter((p) => p.series === name);
            const unit = of[0]?.unit ?? '';
            const max = Math.max(...of.map((p) => p.value));
            return (
              <div key={name} class="series">
                <h3>
                  {name} {unit && <span class="unit">({unit})</span>}
                </h3>
                <PlotFigure
                  label={`${name} over time, ${of.length} values`}
                  deps={[of]}
                  build={() =>
                    Plot.plot({
                      width: WIDTH,
                      height: 150,
                      marginLeft: 56,
                      x: { type: 'utc', label: null, domain: xDomain },
                      y: { grid: true, label: unit || null, domain: [0, max > 0 ? max * 1.15 : 1], nice: true },
                      marks: [
                        Plot.line(of, { x: date, y: 'value', stroke: '#1f4e8c', curve: props.curve ?? 'linear' }),
                        Plot.dot(of, { x: date, y: 'value', fill: '#1f4e8c', r: 3, tip: true, title: (d: SeriesPoint) => `${d.date}: ${formatNumber(d.value)} ${d.unit}` }),
                      ],
                    })
                  }
                />
              </div>
            );
          })}
          <DataTable caption={props.title} columns={['Series', 'Date', 'Value', 'Unit']} rows={points.map((p) => [p.series, p.date, formatNumber(p.value), p.unit])} />
        </>
      )}
    </section>
  );
}

function PredictionSection(props: { t: SubjectTimeline }) {
  const p = props.t.prediction;
  return (
    <section aria-labelledby="pred-h">
      <h2 id="pred-h">Early prediction of week-48 response</h2>
      {!p ? (
        <p>No prediction yet (it is made once the model's timepoint is reached).</p>
      ) : (
        <>
          {p.warning && (
            <p class="warning" role="note">
              <strong>Model warning:</strong> {p.warning}
            </p>
          )}
          <p>
            Model <strong data-testid="model-version">{p.modelVersion}</strong>: {p.outcome}
            {p.probability !== undefined ? `, probability ${formatNumber(p.probability)}` : ''}.
          </p>
          {p.notEvaluable && <p>Not evaluable: {p.notEvaluable}</p>}
          {p.features.length > 0 && (
            <>
              <PlotFigure
                label="Each feature's contribution to the linear predictor"
                testId="contribution-plot"
                deps={[p]}
                build={() =>
                  Plot.plot({
                    width: WIDTH,
                    height: 40 + 30 * p.features.length,
                    marginLeft: 370,
                    x: { label: 'Contribution to the log-odds', grid: true },
                    y: { label: null, domain: p.features.map((f) => f.label) },
                    marks: [
                      Plot.barX(p.features, { x: 'contribution', y: 'label', fill: (d: (typeof p.features)[number]) => (d.contribution >= 0 ? '#1b7f3b' : '#b3261e'), tip: true }),
                      Plot.ruleX([0]),
                    ],
                  })
                }
              />
              <DataTable caption="Features" columns={['Feature', 'Value', 'Contribution']} rows={p.features.map((f) => [f.label, f.value, formatNumber(f.contribution)])} />
            </>
          )}
        </>
      )}
    </section>
  );
}

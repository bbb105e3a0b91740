import * as Plot from '@observablehq/plot';
import type { AdverseEvent, CapabilityStatement, Group, Observation, ResearchSubject } from '@medplum/fhirtypes';
import { fhirRequest, searchAll, type FhirSession } from '../fhir.js';
import { funnel, predictedVsObserved, responseByVisit, type CalibrationPoint, type FunnelRow, type ResponseRow } from '../model/overview.js';
import { formatNumber, visitLabel } from '../study.js';
import { useLoad } from '../ui/load.js';
import { Await, DataTable } from '../ui/parts.js';
import { PlotFigure } from '../ui/plot-figure.js';
import { ELIGIBILITY_GROUP } from './worklist.js';

const WIDTH = 720;

interface OverviewData {
  readonly screened: number;
  readonly funnel: readonly FunnelRow[];
  readonly response: readonly ResponseRow[];
  readonly calibration: readonly CalibrationPoint[];
  /** undefined when the layer stores no AdverseEvent (not in its CapabilityStatement). */
  readonly adverseEvents: readonly { readonly event: string; readonly count: number }[] | undefined;
}

async function loadOverview(session: FhirSession): Promise<OverviewData> {
  const group = await fhirRequest<Group>(session, `Group/${ELIGIBILITY_GROUP}`);
  const system = group.characteristic?.[0]?.code.coding?.[0]?.system ?? '';
  const code = (c: string): string => encodeURIComponent(`${system}|${c}`);
  const [subjects, sri4, predictions, metadata] = await Promise.all([
    searchAll<ResearchSubject>(session, 'ResearchSubject?_count=1000'),
    searchAll<Observation>(session, `Observation?code=${code('sri4')}&_count=1000`),
    searchAll<Observation>(session, `Observation?code=${code('response-prediction')}&_count=1000`),
    fhirRequest<CapabilityStatement>(session, 'metadata'),
  ]);
  const storesAdverseEvents = (metadata.rest ?? []).some((r) => (r.resource ?? []).some((x) => x.type === 'AdverseEvent'));
  let adverseEvents: OverviewData['adverseEvents'];
  if (storesAdverseEvents) {
    const events = await searchAll<AdverseEvent>(session, 'AdverseEvent?_count=1000');
    const counts = new Map<string, number>();
    for (const e of events) {
      const what = e.event?.coding?.[0]?.display ?? e.event?.text ?? e.event?.coding?.[0]?.code ?? 'unspecified';
      counts.set(what, (counts.get(what) ?? 0) + 1);
    }
    adverseEvents = [...counts.entries()].map(([event, count]) => ({ event, count })).sort((a, b) => b.count - a.count);
  }
  const f = funnel(subjects);
  return { screened: f.screened, funnel: f.rows, response: responseByVisit(sri4), calibration: predictedVsObserved(predictions, sri4), adverseEvents };
}

/**
 * The study overview (issue 16): the recruitment funnel, SRI-4 response by visit with 95% intervals
 * (ITT and evaluable), predicted probabilities against observed week-48 outcomes, adverse events.
 * @param props - The session.
 * @returns The page.
 */
export function Overview(props: { session: FhirSession }) {
  const [loaded] = useLoad(() => loadOverview(props.session), 'overview');
  return (
    <>
      <h1>Study overview</h1>
      <Await loaded={loaded}>
        {(data) => (
          <>
            <FunnelSection screened={data.screened} rows={data.funnel} />
            <ResponseSection rows={data.response} />
            <CalibrationSection points={data.calibration} />
            <section aria-labelledby="ae-h">
              <h2 id="ae-h">Adverse events</h2>
              {data.adverseEvents === undefined ? (
                <p data-testid="ae-none">
                  The layer does not store AdverseEvent resources yet (they are not in its CapabilityStatement), so there is nothing to count.
                </p>
              ) : data.adverseEvents.length === 0 ? (
                <p>No adverse event recorded.</p>
              ) : (
                <DataTable open caption="Adverse events by event" columns={['Event', 'Count']} rows={data.adverseEvents.map((a) => [a.event, a.count])} />
              )}
            </section>
          </>
        )}
      </Await>
    </>
  );
}

function FunnelSection(props: { screened: number; rows: readonly FunnelRow[] }) {
  const rows = props.rows;
  return (
    <section aria-labelledby="funnel-h">
      <h2 id="funnel-h">Recruitment funnel</h2>
      <p>
        <strong data-testid="screened">{props.screened}</strong> patients screened, each in the stage of their current study status.
      </p>
      <PlotFigure
        label={`Recruitment: ${rows.map((r) => `${r.words} ${r.count}`).join(', ')}`}
        testId="funnel-plot"
        deps={[rows]}
        build={() =>
          Plot.plot({
            width: WIDTH,
            height: 40 + 30 * rows.length,
            marginLeft: 170,
            marginRight: 40,
            x: { label: 'Patients', grid: true },
            y: { label: null, domain: rows.map((r) => r.words) },
            marks: [
              Plot.barX(rows, { x: 'count', y: 'words', fill: '#1f4e8c', tip: true }),
              Plot.text(rows, { x: 'count', y: 'words', text: (d: FunnelRow) => String(d.count), dx: 12, fill: 'black' }),
              Plot.ruleX([0]),
            ],
          })
        }
      />
      <table data-testid="funnel-table">
        <caption>Recruitment funnel</caption>
        <thead>
          <tr>
            <th scope="col">Stage</th>
            <th scope="col">Patients</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.stage} data-stage={r.stage}>
              <th scope="row">{r.words}</th>
              <td>{r.count}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">Screened (total)</th>
            <td>{props.screened}</td>
          </tr>
        </tfoot>
      </table>
    </section>
  );
}

function ResponseSection(props: { rows: readonly ResponseRow[] }) {
  const rows = props.rows.map((r) => ({ ...r, label: visitLabel(r.visit) }));
  const visits = [...new Set(rows.map((r) => r.label))];
  return (
    <section aria-labelledby="response-h">
      <h2 id="response-h">SRI-4 response by visit</h2>
      <p class="note">Proportion responding with its 95% Wilson interval. Evaluable: responders among responders and non-responders. ITT: not-evaluable results count as non-responders (D9).</p>
      {rows.length === 0 ? (
        <p>No SRI-4 result yet.</p>
      ) : (
        <>
          <p class="legend">
            <span class="key key-itt">■</span> ITT · <span class="key key-evaluable">●</span> evaluable
          </p>
          <PlotFigure
            label="SRI-4 response rate by visit with 95% intervals, ITT and evaluable"
            testId="response-plot"
            deps={[rows]}
            build={() =>
              Plot.plot({
                width: WIDTH,
                height: 260,
                marginLeft: 48,
                fx: { label: 'Visit', domain: visits },
                x: { axis: null, domain: ['ITT', 'Evaluable'] },
                y: { label: 'Responding (proportion)', domain: [0, 1], grid: true },
                color: { domain: ['ITT', 'Evaluable'], range: ['#a3470a', '#1f4e8c'] },
                marks: [
                  Plot.ruleX(rows, { fx: 'label', x: 'analysis', y1: 'low', y2: 'high', stroke: 'analysis', strokeWidth: 2 }),
                  Plot.dot(rows, {
                    fx: 'label',
                    x: 'analysis',
                    y: 'p',
                    fill: 'analysis',
                    symbol: (d: ResponseRow) => (d.analysis === 'ITT' ? 'square' : 'circle'),
                    r: 5,
                    tip: true,
                    title: (d: ResponseRow) => `${visitLabel(d.visit)} ${d.analysis}: ${d.responders}/${d.n} = ${formatNumber(d.p)} (95% CI ${formatNumber(d.low)}–${formatNumber(d.high)})`,
                  }),
                ],
              })
            }
          />
          <DataTable
            caption="SRI-4 response by visit"
            testId="response-table"
            columns={['Visit', 'Analysis', 'Responders', 'n', 'Proportion', '95% CI']}
            rows={rows.map((r) => [r.label, r.analysis, r.responders, r.n, formatNumber(r.p), `${formatNumber(r.low)}–${formatNumber(r.high)}`])}
          />
        </>
      )}
    </section>
  );
}

function CalibrationSection(props: { points: readonly CalibrationPoint[] }) {
  const points = props.points;
  const words: Record<string, string> = { responder: 'Responder at week 48', 'non-responder': 'Non-responder at week 48', 'not-evaluable': 'Not evaluable at week 48', 'not-yet': 'No week-48 result yet' };
  const groups = Object.keys(words).filter((k) => points.some((p) => p.observed === k));
  return (
    <section aria-labelledby="calibration-h">
      <h2 id="calibration-h">Predicted probability against observed week-48 outcome</h2>
      {points.length === 0 ? (
        <p>No prediction yet.</p>
      ) : (
        <>
          <PlotFigure
            label={`Predicted probabilities of ${points.length} subjects by observed week-48 outcome`}
            testId="calibration-plot"
            deps={[points]}
            build={() =>
              Plot.plot({
                width: WIDTH,
                height: 60 + 50 * groups.length,
                marginLeft: 190,
                x: { label: 'Predicted probability of SRI-4 response', domain: [0, 1], grid: true },
                y: { label: null, domain: groups.map((g) => words[g] ?? g) },
                marks: [
                  Plot.ruleX([0.5], { stroke: '#767676', strokeDasharray: '4 3' }),
                  Plot.dot(points, { x: 'probability', y: (d: CalibrationPoint) => words[d.observed] ?? d.observed, fill: '#1f4e8c', fillOpacity: 0.7, r: 5, tip: true, title: (d: CalibrationPoint) => `${d.subject}: ${formatNumber(d.probability)}` }),
                ],
              })
            }
          />
          <DataTable
            caption="Predicted probability by observed outcome"
            columns={['Observed at week 48', 'Subjects', 'Mean predicted probability']}
            rows={groups.map((g) => {
              const of = points.filter((p) => p.observed === g);
              return [words[g] ?? g, of.length, formatNumber(of.reduce((s, p) => s + p.probability, 0) / of.length)];
            })}
          />
        </>
      )}
    </section>
  );
}

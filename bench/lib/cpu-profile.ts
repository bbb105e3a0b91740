import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/** One node of a V8 `.cpuprofile` (the fields this summary reads). */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Time attributed to one function or file. */
export interface ProfileLine {
  readonly name: string;
  readonly selfMs: number;
  readonly totalMs: number;
}

/** What a profile says, in the two views a reader needs: hottest functions by self time, and by inclusive time. */
export interface ProfileSummary {
  readonly totalMs: number;
  readonly bySelf: readonly ProfileLine[];
  readonly byTotal: readonly ProfileLine[];
  /** Self time grouped by source area (a repo folder, or a node_modules package). */
  readonly byArea: readonly ProfileLine[];
}

function areaOf(url: string, root: string): string {
  if (!url) return '(native/gc)';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return (rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : rest[0]) ?? path;
  }
  if (path.startsWith('node:')) return 'node:internal';
  const rel = relative(root, path);
  return rel.startsWith('..') ? path : rel;
}

/**
 * Summarises a V8 CPU profile: self and inclusive time per function (recursion counted once), and
 * self time per source area.
 * @param file - A `.cpuprofile` written by `node --cpu-prof`.
 * @param root - The repository root, to shorten paths.
 * @param top - How many lines per view.
 * @returns The summary.
 */
export function summariseCpuProfile(file: string, root: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const label = (n: ProfileNode): string => {
    const where = n.callFrame.url ? `${areaOf(n.callFrame.url, root)}:${n.callFrame.lineNumber + 1}` : '';
    return `${n.callFrame.functionName || '(anonymous)'} ${where}`.trim();
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const area = new Map<string, number>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)' || node.callFrame.functionName === '(program)') return;
    totalMs += ms;
    self.set(label(node), (self.get(label(node)) ?? 0) + ms);
    area.set(areaOf(node.callFrame.url, root), (area.get(areaOf(node.callFrame.url, root)) ?? 0) + ms);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (!n) break;
      const name = label(n);
      if (!seen.has(name)) {
        seen.add(name);
        total.set(name, (total.get(name) ?? 0) + ms);
      }
    }
  });
  const lines = (m: Map<string, number>, key: 'selfMs' | 'totalMs'): ProfileLine[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, selfMs: key === 'selfMs' ? ms : (self.get(name) ?? 0), totalMs: key === 'totalMs' ? ms : (total.get(name) ?? 0) }));
  return {
    totalMs,
    bySelf: lines(self, 'selfMs'),
    byTotal: lines(total, 'totalMs').filter((l) => !/^\(root\)|^\(anonymous\)/.test(l.name)),
    byArea: [...area].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, ms]) => ({ name, selfMs: ms, totalMs: ms })),
  };
}

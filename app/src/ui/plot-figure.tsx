import { useEffect, useRef } from 'preact/hooks';

/**
 * An Observable Plot chart in the page. Plot adds a `<style>` element to each chart; the layer's CSP
 * allows no inline style, so it is taken out before the chart enters the document and the same rules
 * live in the app's stylesheet (`.plot-figure svg`).
 * @param props - A function that builds the chart, its accessible name and a test id.
 * @returns The figure.
 */
export function PlotFigure(props: { build: () => SVGSVGElement | HTMLElement; label: string; testId?: string; deps: readonly unknown[] }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const host = ref.current;
    if (!host) return undefined;
    const chart = props.build();
    for (const style of chart.querySelectorAll('style')) style.remove();
    // The chart is one image with one name; Plot's per-mark aria-labels on <g> elements have no role to
    // carry them (ARIA 1.2 prohibits aria-label there), and the numbers are in the table below.
    for (const el of chart.querySelectorAll('[aria-label], [aria-description]')) {
      el.removeAttribute('aria-label');
      el.removeAttribute('aria-description');
    }
    chart.setAttribute('role', 'img');
    chart.setAttribute('aria-label', props.label);
    host.replaceChildren(chart);
    return () => host.replaceChildren();
  }, props.deps);
  return <figure class="plot-figure" ref={ref} data-testid={props.testId} />;
}

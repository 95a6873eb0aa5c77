// A check's history as a chart (uPlot, a small canvas plotting library): the failing count
// as a stepped line and the status as a second stepped line on its own axis. Loaded on
// demand (React.lazy) so the first screen does not pay for it; a table beside it carries
// the same data for screen readers and keyboards.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { HistorySeries } from "../lib/history";
import { STATUS_LEVEL_LABELS } from "../lib/status";

export default function HistoryChart({ series, label }: { series: HistorySeries; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el || series.x.length === 0) return;
    const width = Math.max(280, el.clientWidth);
    const stepped = uPlot.paths.stepped?.({ align: 1 });
    const plot = new uPlot(
      {
        width,
        height: 220,
        cursor: { drag: { x: false, y: false } },
        legend: { show: true },
        scales: {
          x: { time: true },
          y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] },
          status: { range: [-0.2, 3.2] },
        },
        axes: [
          { stroke: "#3d4451" },
          {
            label: "Failing items",
            stroke: "#3d4451",
            grid: { stroke: "#e3e6ea" },
            incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000],
          },
          {
            side: 1,
            scale: "status",
            stroke: "#3d4451",
            grid: { show: false },
            splits: () => [0, 1, 2, 3],
            values: (_u, splits) => splits.map((v) => STATUS_LEVEL_LABELS[v] ?? ""),
            size: 120,
          },
        ],
        series: [
          {},
          { label: "Failing items", stroke: "#b3261e", width: 2, fill: "rgba(179,38,30,0.08)", paths: stepped },
          {
            label: "Status",
            scale: "status",
            stroke: "#1f5fa8",
            width: 2,
            dash: [6, 4],
            paths: stepped,
            value: (_u, v) => (v == null ? "—" : (STATUS_LEVEL_LABELS[v] ?? String(v))),
          },
        ],
      },
      [series.x, series.failing, series.level],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [series]);
  return <div ref={host} className="chart" role="img" aria-label={label} />;
}

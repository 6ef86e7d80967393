// The ops console's script (no build step): draws every metric widget with uPlot from
// /_ops/api/dashboards/{name}, fills the alarm widgets, the log widgets and the alarm list,
// runs the request-id search, and refreshes it all every few seconds.
//
// After drawing, each widget says what it shows: data-points (metric), data-rows (log),
// each single value its data-value, and each alarm row its data-state. Tests and people read
// the same page.
(() => {
  "use strict";

  const refreshMs = Number(document.body.dataset.refreshMs) || 5000;
  const charts = new Map();
  const form = document.getElementById("variables");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null) node.setAttribute(key, value);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : String(child ?? ""));
    }
    return node;
  }

  function cell(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  async function getJson(url) {
    const reply = await fetch(url, { cache: "no-store" });
    const body = await reply.json().catch(() => ({}));
    if (!reply.ok) throw new Error(body.message || `${url}: ${reply.status}`);
    return body;
  }

  // The dashboards' variables (e.g. request_id), as typed in the header's form.
  function variables() {
    const values = new URLSearchParams();
    for (const input of form.querySelectorAll("input[name]")) {
      if (input.value.trim()) values.set(input.name, input.value.trim());
    }
    return values;
  }

  function alarmRow(alarm) {
    return el(
      "tr",
      { class: "alarm-row", "data-alarm": alarm.name, "data-state": alarm.state },
      el("td", {}, alarm.name),
      el("td", {}, el("span", { class: `state ${alarm.state}` }, alarm.state)),
      el("td", {}, alarm.updated),
      el("td", {}, alarm.reason),
      el("td", {}, el("a", { href: alarm.runbook_url }, alarm.runbook)),
    );
  }

  function fillAlarms(tbody, alarms) {
    tbody.replaceChildren(...alarms.map(alarmRow));
  }

  function showError(widget, box, message) {
    widget.classList.add("failed");
    box.replaceChildren(el("p", { class: "error" }, message));
  }

  // The latest value of a series (the last period with one), or undefined.
  function latestOf(values) {
    return [...values].reverse().find((v) => v !== null && v !== undefined);
  }

  function shownNumber(value) {
    if (value === undefined) return "no data";
    return Number.isInteger(value) ? String(value) : value.toFixed(2);
  }

  // A singleValue widget: each visible series' latest value, as CloudWatch shows it.
  function drawValues(widget, data) {
    const box = widget.querySelector(".single-values");
    if (data.error) {
      widget.dataset.points = "0";
      return showError(widget, box, data.error);
    }
    box.replaceChildren(
      ...data.series.flatMap((s) => {
        const latest = latestOf(s.values);
        return [
          el("dt", {}, s.label),
          el("dd", { class: "single-value", "data-value": latest === undefined ? null : String(latest) }, shownNumber(latest)),
        ];
      }),
    );
    widget.classList.remove("failed");
    widget.dataset.points = String(data.points);
    widget.dataset.rendered = "values";
  }

  function drawMetric(widget, data) {
    if (widget.querySelector(".single-values")) return drawValues(widget, data);
    const box = widget.querySelector(".chart");
    if (data.error) {
      widget.dataset.points = "0";
      return showError(widget, box, data.error);
    }
    const xs = data.timestamps;
    const series = [{}];
    const columns = [xs];
    for (const s of data.series) {
      series.push({ label: s.label, stroke: s.color, width: 1.5, points: { show: true, size: 5, fill: s.color } });
      columns.push(s.values);
    }
    for (const a of data.annotations) {
      series.push({ label: a.label || `${a.value}`, stroke: "#d62728", dash: [6, 4], width: 1, points: { show: false } });
      columns.push(xs.map(() => a.value));
    }
    const fromZero = data.y_min === 0;
    let chart = charts.get(widget);
    if (chart && chart.series.length === series.length) {
      chart.setData(columns);
    } else {
      if (chart) chart.destroy();
      box.replaceChildren();
      chart = new uPlot(
        {
          ...chartSize(box),
          series,
          legend: { show: false },
          cursor: { points: { size: 6 } },
          scales: {
            y: {
              range: (u, min, max) => {
                const low = fromZero ? Math.min(0, min ?? 0) : (min ?? 0);
                // Headroom above the highest value, also when it is negative or the only one.
                const high = max === null || max <= low ? low + Math.max(1, Math.abs(low) * 0.1) : max + Math.abs(max) * 0.1;
                return [low, high];
              },
            },
          },
          axes: [{ size: 28 }, { size: 44 }],
        },
        columns,
        box,
      );
      charts.set(widget, chart);
      new ResizeObserver(() => chart.setSize(chartSize(box))).observe(box);
    }
    widget.querySelector(".legend").replaceChildren(...series.slice(1).map((s, i) => legendItem(s, columns[i + 1])));
    widget.classList.remove("failed");
    widget.dataset.points = String(data.points);
    widget.dataset.rendered = "uplot";
  }

  function chartSize(box) {
    return { width: Math.max(box.clientWidth, 100), height: Math.max(box.clientHeight, 60) };
  }

  // A series' colour, label and latest value (the last period with one).
  function legendItem(series, values) {
    const shown = shownNumber(latestOf(values));
    return el(
      "li",
      {},
      el("span", { class: "swatch", style: `border-color:${series.stroke}${series.dash ? ";border-style:dashed" : ""}` }),
      series.label,
      " ",
      el("span", { class: "latest" }, shown),
    );
  }

  function table(columns, rows) {
    return el(
      "table",
      { class: "rows" },
      el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", {}, c)))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((v) => el("td", {}, cell(v)))))),
    );
  }

  function drawLog(widget, data) {
    const box = widget.querySelector(".log-table");
    if (data.error) {
      widget.dataset.rows = "0";
      return showError(widget, box, data.error);
    }
    widget.classList.remove("failed");
    widget.dataset.rows = String(data.rows.length);
    if (data.rows.length === 0) {
      box.replaceChildren(el("p", { class: "meta" }, "No matching log events in the last 3 hours."));
    } else {
      box.replaceChildren(table(data.columns, data.rows));
    }
    const query = widget.querySelector("details pre");
    if (query && data.query) query.textContent = data.query;
  }

  async function refreshDashboard(section) {
    const name = section.dataset.dashboard;
    const query = variables().toString();
    const data = await getJson(`/_ops/api/dashboards/${encodeURIComponent(name)}${query ? `?${query}` : ""}`);
    data.widgets.forEach((w, index) => {
      const widget = section.querySelector(`.widget[data-widget="${index}"]`);
      if (!widget) return;
      if (w.type === "metric") drawMetric(widget, w);
      else if (w.type === "log") drawLog(widget, w);
      else if (w.type === "alarm") fillAlarms(widget.querySelector("tbody"), w.alarms || []);
    });
    section.dataset.loaded = String(data.now);
  }

  function fieldList(line, keys) {
    return el(
      "dl",
      { class: "fields" },
      ...keys.filter((k) => line[k] !== undefined).flatMap((k) => [el("dt", {}, k), el("dd", {}, cell(line[k]))]),
    );
  }

  function traceView(trace) {
    const docs = trace.segments || [];
    if (docs.length === 0) return el("p", { class: "meta" }, "No trace segments.");
    const start = Math.min(...docs.map((d) => d.start_time));
    const end = Math.max(...docs.map((d) => d.end_time ?? d.start_time));
    const span = Math.max(end - start, 1e-6);
    const rows = docs.map((d) => {
      const left = ((d.start_time - start) / span) * 100;
      const width = Math.max((((d.end_time ?? d.start_time) - d.start_time) / span) * 100, 0.5);
      const ms = (((d.end_time ?? d.start_time) - d.start_time) * 1000).toFixed(1);
      const failed = d.error || d.fault;
      return el(
        "tr",
        {},
        el("td", {}, `${d.namespace ? `${d.namespace}: ` : ""}${d.name}`),
        el("td", { class: "num" }, `${ms} ms`),
        el("td", { class: "bar" }, el("span", { class: failed ? "fault" : "", style: `left:${left}%;width:${width}%` })),
      );
    });
    return el(
      "div",
      {},
      el("p", { class: "meta" }, "trace ", el("code", {}, trace.trace_id), " · ", el("a", { href: trace.url }, "JSON")),
      el("table", { class: "trace" }, el("tbody", {}, ...rows)),
    );
  }

  const FUNCTION_FIELDS = ["timestamp", "level", "message", "service", "request_id", "function_request_id", "xray_trace_id", "route", "status", "latency_ms", "error"];
  const ACCESS_FIELDS = ["requestTime", "routeKey", "status", "responseLatency", "integrationLatency", "integrationStatus", "integrationErrorMessage", "authorizerError"];

  async function search(id) {
    const section = document.getElementById("request");
    const result = document.getElementById("request-result");
    document.getElementById("request-id").textContent = id;
    section.hidden = false;
    let found;
    try {
      found = await getJson(`/_ops/api/requests/${encodeURIComponent(id)}`);
    } catch (e) {
      result.replaceChildren(el("p", { class: "error" }, e.message));
      return;
    }
    const parts = [];
    parts.push(el("h3", {}, "Access log (", el("code", {}, "/aws/apigateway/items-api"), ")"));
    parts.push(
      found.access_log.length
        ? el("div", {}, ...found.access_log.map((l) => fieldList(l, ACCESS_FIELDS)))
        : el("p", { class: "meta" }, "No access-log line carries this id."),
    );
    parts.push(el("h3", {}, `Function log lines (${found.function_logs.length})`));
    parts.push(
      found.function_logs.length
        ? el(
            "div",
            { class: "function-lines" },
            ...found.function_logs.map((f) =>
              el(
                "details",
                { class: "function-line", "data-log-group": f.log_group },
                el("summary", {}, el("code", {}, f.log_group), " ", f.line._aws ? "EMF metrics document" : `${f.line.level || ""} ${f.line.message || ""}`),
                f.line._aws ? "" : fieldList(f.line, FUNCTION_FIELDS),
                el("pre", {}, JSON.stringify(f.line, null, 1)),
              ),
            ),
          )
        : el("p", { class: "meta" }, "No function line carries this id."),
    );
    parts.push(el("h3", {}, `Archived events (${found.events.length})`));
    for (const event of found.events) parts.push(el("pre", {}, JSON.stringify(event, null, 1)));
    parts.push(el("h3", {}, "X-Ray trace"));
    try {
      const trace = await getJson(found.trace_url);
      trace.url = found.trace_url;
      parts.push(traceView(trace));
    } catch (e) {
      parts.push(el("p", { class: "meta" }, e.message));
    }
    result.replaceChildren(...parts);
    section.dataset.found = String(found.access_log.length + found.function_logs.length);
    section.dataset.events = String(found.events.length);
  }

  // The SLO section as the server renders it (its only author), swapped in whole.
  async function refreshSlos() {
    const reply = await fetch("/_ops/sections/slos", { cache: "no-store" });
    if (!reply.ok) throw new Error(`/_ops/sections/slos: ${reply.status}`);
    const fresh = new DOMParser().parseFromString(await reply.text(), "text/html").getElementById("slos");
    const current = document.getElementById("slos");
    if (!fresh || !current) return;
    fresh.dataset.refreshed = String(Date.now());
    current.replaceWith(document.adoptNode(fresh));
  }

  async function refresh() {
    const tasks = [...document.querySelectorAll("section.dashboard")].map(refreshDashboard);
    tasks.push(getJson("/_ops/api/alarms").then((a) => fillAlarms(document.querySelector("#alarm-list tbody"), a.alarms)));
    tasks.push(refreshSlos());
    const results = await Promise.allSettled(tasks);
    const failed = results.filter((r) => r.status === "rejected");
    const updated = document.getElementById("updated");
    updated.textContent = failed.length
      ? `refresh failed: ${failed[0].reason.message}`
      : `updated ${new Date().toLocaleTimeString()}; every ${refreshMs / 1000} s`;
    document.body.dataset.refreshed = String(Date.now());
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = variables();
    history.replaceState(null, "", values.toString() ? `?${values}` : location.pathname);
    const id = values.get("request_id");
    if (id) search(id);
    refresh();
  });

  // A link such as /_ops?request_id=… opens on that request.
  const params = new URLSearchParams(location.search);
  for (const input of form.querySelectorAll("input[name]")) {
    if (params.get(input.name)) input.value = params.get(input.name);
  }
  if (params.get("request_id")) search(params.get("request_id"));
  refresh();
  setInterval(refresh, refreshMs);
})();

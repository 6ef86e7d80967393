//! The console's HTML: one page with the alarm list, the request search and every dashboard's
//! grid of widgets, laid out as in CloudWatch (24 columns; `x`, `y`, `width`, `height`).
//! Text widgets and the alarm list are rendered here, so the page reads without scripts;
//! `ops.js` draws the charts, fills the alarm and log widgets, and refreshes them.

use crate::html::escape;
use std::fmt::Write as _;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde_json::Value;

use super::assets;
use crate::cloudwatch::alarms::AlarmStatus;
use crate::cloudwatch::{CloudWatch, NAME_PREFIX};

/// Milliseconds between two refreshes of the widgets' data.
pub const REFRESH_MS: u32 = 5000;

/// Markdown as HTML, with headings `shift` levels down (a text widget's `##` sits under the
/// page's own headings) and raw HTML shown as text, never interpreted.
pub fn markdown(text: &str, shift: usize) -> String {
    let down = |level: HeadingLevel| {
        let n = (level as usize + shift).min(6);
        HeadingLevel::try_from(n).unwrap_or(HeadingLevel::H6)
    };
    let events = Parser::new_ext(text, Options::ENABLE_TABLES).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: down(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(down(level))),
        other => other,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// A dashboard's title: the first Markdown heading of its text widgets, else its name.
pub fn dashboard_title(stem: &str, body: &Value) -> String {
    body["widgets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["properties"]["markdown"].as_str())
        .flat_map(str::lines)
        .find_map(|l| {
            l.strip_prefix('#')
                .map(|h| h.trim_start_matches('#').trim())
        })
        .map_or_else(|| stem.to_owned(), str::to_owned)
}

/// The alarm table's rows (the same markup `ops.js` writes when it refreshes them).
pub fn alarm_rows(statuses: &[AlarmStatus]) -> String {
    let mut out = String::new();
    for s in statuses {
        let _ = write!(
            out,
            "<tr class=\"alarm-row\" data-alarm=\"{name}\" data-state=\"{state}\"><td>{name}</td><td><span class=\"state {state}\">{state}</span></td><td>{since}</td><td>{reason}</td><td><a href=\"/_ops/files/{runbook}\">{runbook}</a></td></tr>",
            name = escape(&s.name),
            state = s.state.as_str(),
            since = escape(&s.updated),
            reason = escape(&s.reason),
            runbook = escape(&s.runbook),
        );
    }
    out
}

const ALARM_HEAD: &str = "<thead><tr><th>alarm</th><th>state</th><th>since</th><th>reason</th><th>runbook</th></tr></thead>";

fn widget(stem: &str, index: usize, widget: &Value) -> String {
    let props = &widget["properties"];
    let kind = widget["type"].as_str().unwrap_or_default();
    let cell = |key: &str, default: u64, max: u64| widget[key].as_u64().unwrap_or(default).min(max);
    let (width, height) = (cell("width", 6, 24).max(1), cell("height", 6, 1000).max(1));
    let (x, y) = (cell("x", 0, 23), cell("y", 0, 10_000));
    // A widget with its own time range says so, as CloudWatch's widget header does.
    let range = props["start"]
        .as_str()
        .and_then(|start| super::widgets::relative_range_secs(start).ok())
        .map(|secs| {
            format!(
                " <span class=\"meta range\">last {}</span>",
                range_words(secs)
            )
        })
        .unwrap_or_default();
    let title = props["title"]
        .as_str()
        .map(|t| format!("<h3>{}{range}</h3>", escape(t)))
        .unwrap_or_default();
    let body = match kind {
        "text" => format!(
            "<div class=\"markdown\">{}</div>",
            markdown(props["markdown"].as_str().unwrap_or_default(), 1)
        ),
        "metric" if props["view"] == "singleValue" => {
            "<dl class=\"single-values\"></dl>".to_owned()
        }
        "metric" => "<div class=\"chart\"></div><ul class=\"legend\"></ul>".to_owned(),
        "alarm" => format!("<table class=\"alarms\">{ALARM_HEAD}<tbody></tbody></table>"),
        "log" => format!(
            "<div class=\"log-table\"></div><details><summary>Logs Insights query</summary><pre>{}</pre></details>",
            escape(props["query"].as_str().unwrap_or_default())
        ),
        other => format!(
            "<p class=\"meta\">widget type {} not shown</p>",
            escape(other)
        ),
    };
    format!(
        "<div class=\"widget {kind}-widget\" data-dashboard=\"{stem}\" data-widget=\"{index}\" data-type=\"{kind}\" style=\"grid-column:{col} / span {width};grid-row:{row} / span {height}\">{title}{body}</div>",
        kind = escape(kind),
        stem = escape(stem),
        col = x + 1,
        row = y + 1,
    )
}

/// `3 hours`, `30 days`, `90 minutes`.
fn range_words(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 && s > 86_400 * 2 => format!("{} days", s / 86_400),
        s if s % 3600 == 0 => format!("{} hours", s / 3600),
        s => format!("{} minutes", s / 60),
    }
}

/// The variables of the dashboards (CloudWatch's `pattern` variables), once each by id:
/// `(id, label)`.
fn variables(cw: &CloudWatch) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (_, body) in &cw.dashboards {
        for v in body["variables"].as_array().into_iter().flatten() {
            if let Some(id) = v["id"].as_str()
                && !out.iter().any(|(known, _)| known == id)
            {
                let label = v["label"].as_str().unwrap_or(id);
                out.push((id.to_owned(), label.to_owned()));
            }
        }
    }
    out
}

/// The whole console.
pub fn render(cw: &CloudWatch) -> String {
    render_with(cw, "")
}

/// The whole console, with `sections` (HTML) after the alarms.
pub fn render_with(cw: &CloudWatch, sections: &str) -> String {
    let mut page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Ops console: local twin</title>\
<link rel=\"stylesheet\" href=\"{css}\" integrity=\"{css_sri}\"><link rel=\"stylesheet\" href=\"/_ops/assets/ops.css\">\
<script src=\"{js}\" integrity=\"{js_sri}\" defer></script><script src=\"/_ops/assets/ops.js\" defer></script></head>\
<body data-refresh-ms=\"{REFRESH_MS}\"><header><h1>Ops console <span class=\"meta\">local twin</span></h1><nav><a href=\"#alarms\">Alarms</a><a href=\"#slos\">SLOs</a>{stream_link}",
        css = assets::UPLOT_CSS.path,
        css_sri = assets::UPLOT_CSS.integrity,
        js = assets::UPLOT_JS.path,
        js_sri = assets::UPLOT_JS.integrity,
        stream_link = if sections.is_empty() {
            ""
        } else {
            "<a href=\"#stream\">Stream</a>"
        },
    );
    for (stem, body) in &cw.dashboards {
        let _ = write!(
            page,
            "<a href=\"#dashboard-{stem}\">{}</a>",
            escape(&dashboard_title(stem, body)),
            stem = escape(stem)
        );
    }
    page.push_str("<a href=\"/_ops/files/runbooks/README.md\">On-call guide</a></nav><form id=\"variables\" method=\"get\" action=\"/_ops\">");
    for (id, label) in variables(cw) {
        let _ = write!(
            page,
            "<label>{label} <input name=\"{id}\" id=\"var-{id}\" autocomplete=\"off\" spellcheck=\"false\"></label>",
            label = escape(&label),
            id = escape(&id)
        );
    }
    page.push_str(
        "<button>Find</button> <span class=\"meta\" id=\"updated\"></span></form></header><main>",
    );
    let _ = write!(
        page,
        "<section id=\"alarms\"><h2>Alarms</h2><table class=\"alarms\" id=\"alarm-list\">{ALARM_HEAD}<tbody>{}</tbody></table></section>",
        alarm_rows(&cw.alarms.statuses())
    );
    page.push_str(&super::slos::section(&super::slos::view(cw)));
    page.push_str(sections);
    page.push_str("<section id=\"request\" hidden><h2>Request <code id=\"request-id\"></code></h2><div id=\"request-result\"></div></section>");
    for (stem, body) in &cw.dashboards {
        let _ = write!(
            page,
            "<section class=\"dashboard\" id=\"dashboard-{stem}\" data-dashboard=\"{stem}\"><h2>{title}</h2><p class=\"meta\">{prefix}-{stem}, from <code>dashboards/{stem}.json</code>; the last 3 hours unless a widget says otherwise</p><div class=\"grid\">",
            stem = escape(stem),
            title = escape(&dashboard_title(stem, body)),
            prefix = NAME_PREFIX,
        );
        for (index, w) in body["widgets"].as_array().into_iter().flatten().enumerate() {
            page.push_str(&widget(stem, index, w));
        }
        page.push_str("</div></section>");
    }
    page.push_str("</main></body></html>");
    page
}

/// A runbook as a page of its own.
pub fn runbook_page(file: &str, text: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><link rel=\"stylesheet\" href=\"/_ops/assets/ops.css\"></head><body class=\"runbook\"><nav><a href=\"/_ops\">Ops console</a> · <a href=\"/_ops/files/runbooks/README.md\">On-call guide</a> · <code>{title}</code></nav><main class=\"markdown\">{}</main></body></html>",
        markdown(text, 0),
        title = escape(file),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::default_repo_dir;

    #[test]
    fn markdown_links_code_headings_and_raw_html() {
        assert_eq!(
            markdown(
                "## Title\nsee [the guide](/r/README.md) and `a<b` **bold** <b>x</b>",
                1
            ),
            "<h3>Title</h3>\n<p>see <a href=\"/r/README.md\">the guide</a> and <code>a&lt;b</code> <strong>bold</strong> &lt;b&gt;x&lt;/b&gt;</p>\n"
        );
        assert!(markdown("| a | b |\n|---|---|\n| 1 | 2 |", 0).contains("<td>1</td>"));
    }

    #[test]
    fn every_dashboard_widget_and_alarm_is_on_the_page() {
        let cw = CloudWatch::load(&default_repo_dir(), 10).unwrap();
        let html = render(&cw);
        for (stem, body) in &cw.dashboards {
            assert!(html.contains(&format!("id=\"dashboard-{stem}\"")));
            let widgets = body["widgets"].as_array().unwrap().len();
            let on_page = html
                .matches(&format!("data-dashboard=\"{stem}\" data-widget="))
                .count();
            assert_eq!(on_page, widgets, "{stem}");
        }
        assert!(html.contains("Items API: functions and table"));
        assert_eq!(
            html.matches("class=\"alarm-row\"").count(),
            cw.alarms.defs().len() + cw.alarms.composites().len()
        );
        assert!(html.contains("href=\"/_ops/files/runbooks/api-5xx-rate.md\""));
        // The text widgets' links point at the runbooks the console serves.
        assert!(html.contains("<a href=\"/_ops/files/runbooks/README.md\">on-call guide</a>"));
        assert!(html.contains("<input name=\"request_id\""));
        // The SLO dashboard: its figures as values, its charts over their own ranges.
        assert!(html.contains("id=\"dashboard-slos\""));
        assert!(html.contains("<dl class=\"single-values\"></dl>"));
        assert!(html.contains("<span class=\"meta range\">last 30 days</span>"));
        assert!(html.contains("<span class=\"meta range\">last 3 hours</span>"));
        assert_eq!(range_words(72 * 3600), "3 days");
        assert_eq!(range_words(12 * 3600), "12 hours");
        assert_eq!(range_words(86_400), "24 hours");
    }
}

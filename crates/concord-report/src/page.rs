//! Whole documents: the dashboard page, the self-contained report, the
//! sign-in page and notices (401, 403, ...). Panels become sections with a
//! chart and a table of the same figures.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use concord_disclosure::{Dashboard, Dimension, Panel, ProtectedTable};

use crate::{
    Cell, STYLESHEET, SUPPRESSED,
    html::{esc, slug},
    svg::{self, Series},
};

/// Who is looking at the web page.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: String,
    pub org: String,
    pub role: String,
}

/// What a page says about itself besides the figures.
#[derive(Debug, Clone)]
pub struct PageContext {
    /// The signed-in user (web page), or the user the report was made for.
    pub viewer: Option<Viewer>,
    /// When the figures were produced.
    pub generated_at: DateTime<Utc>,
}

const BRAND: &str = "Concord · Community Safety Partnership";

/// What a reader may and may not add up, in one sentence (on every page).
pub const ADD_UP: &str = "You may compare any two figures, but do not add figures up or take \
     one from another to make a new one: every figure, each total included, is protected on its \
     own, so the rows of a table need not add up to its total.";

/// Most series one chart draws; the table always shows every figure.
const MAX_SERIES: usize = 4;

fn document(title: &str, masthead: &str, main: &str, footer: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex, nofollow\">\
         <title>{}</title><style>{STYLESHEET}</style></head>\n<body>\
         <a class=\"skip-link\" href=\"#main\">Skip to main content</a>\
         <header class=\"masthead\"><p class=\"brand\">{}</p>{masthead}</header>\n\
         <main id=\"main\" tabindex=\"-1\">{main}</main>\n<footer>{footer}</footer></body></html>\n",
        esc(title),
        esc(BRAND)
    )
}

/// The legend that explains the marker and the rounding, from the rule
/// the panels were protected with (the viewer's role's thresholds).
fn legend(d: &Dashboard) -> String {
    let mut rules: Vec<(u32, u64)> = d
        .panels
        .iter()
        .map(|p| (p.table.suppress_max, p.table.rule().grid()))
        .collect();
    rules.sort_unstable();
    rules.dedup();
    let rule = match rules.as_slice() {
        [(s, g)] => format!(
            "Counts from 1 to {s} are not shown: they appear as <strong>{SUPPRESSED}</strong> \
             (confidential). Every other figure is rounded to a multiple of {g} and may be moved \
             one step of {g} up or down."
        ),
        _ => format!(
            "Small counts are not shown: they appear as <strong>{SUPPRESSED}</strong> \
             (confidential). Every other figure is rounded and may be moved one step (each table \
             says how)."
        ),
    };
    format!(
        "<section class=\"legend\" aria-labelledby=\"legend-h\"><h2 id=\"legend-h\">How to read \
         these figures</h2><p>{rule} The step is fixed by the records a figure counts, so the \
         same records show the same figure in every table, chart, report and query.</p>\
         <p class=\"add-up\">{ADD_UP}</p><p>The figures count pseudonymised records the \
         partnership's agencies shared with the broker; a person known to several agencies is \
         counted once in each figure. No figure identifies a person.</p></section>"
    )
}

fn viewer_line(ctx: &PageContext) -> String {
    match &ctx.viewer {
        Some(v) => format!(
            "<p class=\"who\">Signed in as <strong>{}</strong> ({}, {})</p>",
            esc(&v.user),
            esc(&v.role.replace('_', " ")),
            esc(&v.org)
        ),
        None => String::new(),
    }
}

/// The dashboard as the broker serves it: the panels, plus the period
/// chooser and the sign-out button.
pub fn dashboard_page(d: &Dashboard, ctx: &PageContext) -> String {
    let label = d.period_label.clone();
    let masthead = format!(
        "{}<div class=\"controls\"><form method=\"get\" action=\"/dashboard\" \
         role=\"search\" aria-label=\"Choose the period\"><div><label for=\"period\">Period \
         (month 2026-10, quarter 2026-Q1, financial year 2025-26, year 2026, or \
         12m-2026-10)</label><input type=\"text\" id=\"period\" name=\"period\" \
         value=\"{}\" pattern=\"[0-9]{{4}}(-[0-9]{{2}}|-Q[1-4])?|12m-[0-9]{{4}}-[0-9]{{2}}\" \
         autocomplete=\"off\" required></div><button type=\"submit\" \
         class=\"secondary\">Show</button></form><form method=\"post\" action=\"/logout\">\
         <button type=\"submit\" class=\"secondary\">Sign out</button></form></div>",
        viewer_line(ctx),
        esc(&d.period)
    );
    let main = body(d, &label, ctx);
    document(
        &format!("Board dashboard: {label}"),
        &masthead,
        &main,
        &footer(ctx, false),
    )
}

/// The self-contained report for circulation: the same panels, no
/// controls, nothing fetched from anywhere.
pub fn report(d: &Dashboard, ctx: &PageContext) -> String {
    let label = d.period_label.clone();
    let masthead = match &ctx.viewer {
        Some(v) => format!(
            "<p class=\"who\">Board report prepared for {} ({}, {})</p>",
            esc(&v.user),
            esc(&v.role.replace('_', " ")),
            esc(&v.org)
        ),
        None => String::new(),
    };
    let main = body(d, &label, ctx);
    document(
        &format!("Board report: {label}"),
        &masthead,
        &main,
        &footer(ctx, true),
    )
}

fn footer(ctx: &PageContext, report: bool) -> String {
    format!(
        "<p>Figures produced by the Concord broker at {} UTC{}. Disclosure-controlled \
         aggregate figures: do not attempt to identify anyone from them, and do not combine \
         them with other figures to do so.</p>",
        ctx.generated_at.format("%Y-%m-%d %H:%M"),
        if report {
            "; this file is self-contained and needs no network to view or print"
        } else {
            ""
        }
    )
}

fn body(d: &Dashboard, label: &str, ctx: &PageContext) -> String {
    let mut out = format!(
        "<h1>Board dashboard: {}</h1><p class=\"meta\">Serious violence and safeguarding \
         across the partnership's agencies · produced {} UTC</p>",
        esc(label),
        ctx.generated_at.format("%d %B %Y %H:%M")
    );
    out.push_str(&legend(d));
    if d.panels.is_empty() {
        out.push_str("<p>There are no panels for this period.</p>");
        return out;
    }
    out.push_str("<nav class=\"toc\" aria-label=\"Panels on this page\"><ul>");
    let ids = panel_ids(d);
    for (p, id) in d.panels.iter().zip(&ids) {
        let _ = write!(out, "<li><a href=\"#{id}\">{}</a></li>", esc(&p.title));
    }
    out.push_str("</ul></nav>");
    for (n, (p, id)) in d.panels.iter().zip(&ids).enumerate() {
        out.push_str(&panel(p, id, n + 1));
    }
    out
}

/// Unique element ids for the panels.
fn panel_ids(d: &Dashboard) -> Vec<String> {
    let mut ids: Vec<String> = Vec::with_capacity(d.panels.len());
    for (i, p) in d.panels.iter().enumerate() {
        let mut id = format!("panel-{}", slug(&p.id));
        if id == "panel-" || ids.contains(&id) {
            id = format!("panel-{}", i + 1);
        }
        ids.push(id);
    }
    ids
}

/// What a panel's chart is.
enum Chart {
    /// A line over months.
    Line,
    /// Horizontal bars.
    Bars,
    /// Too many series to draw legibly: the table alone.
    None,
}

/// A table viewed for charting: categories (first dimension) and series
/// (measures, or the second dimension's keys when there is one measure).
struct Shape {
    chart: Chart,
    categories: Vec<String>,
    series_names: Vec<String>,
    series_values: Vec<Vec<Cell>>,
    /// When the chart draws fewer series than the table holds.
    partial: bool,
}

fn cell_of(t: &ProtectedTable, keys: &[&str], m: usize) -> Cell {
    t.rows
        .iter()
        .find(|r| r.keys.iter().map(String::as_str).eq(keys.iter().copied()))
        .and_then(|r| r.values.get(m).copied())
        .map_or(Cell::Missing, Cell::from)
}

fn shape(t: &ProtectedTable) -> Shape {
    let none = |categories| Shape {
        chart: Chart::None,
        categories,
        series_names: vec![],
        series_values: vec![],
        partial: false,
    };
    if t.group_by.is_empty() || t.rows.is_empty() || t.measures.is_empty() {
        return none(vec![]);
    }
    // The month, wherever it is, runs along the axis; otherwise the first
    // dimension does.
    let month_at = t.group_by.iter().position(|d| *d == Dimension::Month);
    let axis = month_at.unwrap_or(0);
    let axis_dim = t.group_by[axis];
    let axis_keys = t.keys_of(axis);
    let categories: Vec<String> = axis_keys.iter().map(|k| axis_dim.label(k)).collect();
    // A single month is a bar, not a line.
    let chart = if month_at.is_some() && axis_keys.len() > 1 {
        Chart::Line
    } else {
        Chart::Bars
    };
    match t.group_by.len() {
        1 => {
            let shown = t.measures.len().min(MAX_SERIES);
            Shape {
                chart,
                series_names: t.measures[..shown]
                    .iter()
                    .map(|m| m.title().to_owned())
                    .collect(),
                series_values: (0..shown)
                    .map(|m| axis_keys.iter().map(|k| cell_of(t, &[k], m)).collect())
                    .collect(),
                categories,
                partial: shown < t.measures.len(),
            }
        }
        2 if t.measures.len() == 1 && t.keys_of(1 - axis).len() <= MAX_SERIES => {
            let other = 1 - axis;
            let other_dim = t.group_by[other];
            let other_keys = t.keys_of(other);
            let key = |a: &str, o: &str| -> [String; 2] {
                let mut k = [String::new(), String::new()];
                k[axis] = a.to_owned();
                k[other] = o.to_owned();
                k
            };
            Shape {
                chart,
                series_names: other_keys.iter().map(|k| other_dim.label(k)).collect(),
                series_values: other_keys
                    .iter()
                    .map(|o| {
                        axis_keys
                            .iter()
                            .map(|a| {
                                let [k0, k1] = key(a, o);
                                cell_of(t, &[&k0, &k1], 0)
                            })
                            .collect()
                    })
                    .collect(),
                categories,
                partial: false,
            }
        }
        _ => none(categories),
    }
}

/// A panel with no dimension: its figures as large headline numbers.
fn headline(t: &ProtectedTable) -> String {
    let Some(row) = t.rows.first() else {
        return String::new();
    };
    let mut out = String::from("<ul class=\"headline\">");
    for (m, v) in t.measures.iter().zip(&row.values) {
        let c = Cell::from(*v);
        let _ = write!(
            out,
            "<li><span class=\"figure value{}\">{c}</span> <span class=\"what\">{}</span></li>",
            if c == Cell::Suppressed {
                " suppressed"
            } else {
                ""
            },
            esc(m.title())
        );
    }
    out.push_str("</ul>");
    out
}

fn panel(p: &Panel, id: &str, number: usize) -> String {
    let t = &p.table;
    let s = shape(t);
    let long = s.categories.len() > 14;
    let mut out = format!(
        "<section class=\"panel{}\" id=\"{id}\" aria-labelledby=\"{id}-h\"><h2 id=\"{id}-h\">{}</h2>",
        if long { " long" } else { "" },
        esc(&p.title)
    );
    if !p.description.is_empty() {
        let _ = write!(out, "<p class=\"description\">{}</p>", esc(&p.description));
    }
    if t.rows.is_empty() {
        out.push_str("<p>No figures for this period.</p></section>");
        return out;
    }
    if t.group_by.is_empty() {
        out.push_str(&headline(t));
    }
    out.push_str("<div class=\"panel-body\">");
    let series: Vec<Series<'_>> = s
        .series_names
        .iter()
        .zip(&s.series_values)
        .map(|(name, values)| Series {
            name,
            values: values.clone(),
        })
        .collect();
    let by = t
        .group_by
        .iter()
        .find(|d| **d == Dimension::Month)
        .or(t.group_by.first())
        .map(|d| d.title().to_lowercase())
        .unwrap_or_default();
    let desc = chart_description(&s);
    let drawn = match s.chart {
        Chart::Line => Some(svg::line(id, &p.title, &desc, &s.categories, &series)),
        Chart::Bars => Some(svg::bars(id, &p.title, &desc, &s.categories, &series)),
        Chart::None => None,
    };
    if let Some(svg) = drawn {
        let kind = match s.chart {
            Chart::Line => "Line chart",
            _ => "Bar chart",
        };
        let _ = write!(
            out,
            "<figure aria-labelledby=\"{id}-cap\">{svg}<figcaption id=\"{id}-cap\">Figure \
             {number}. {kind}: {} by {}{}. {SUPPRESSED} marks a suppressed value; the table \
             gives the same figures.</figcaption></figure>",
            esc(&s.series_names.join(", ")),
            esc(&by),
            if s.partial {
                " (the table has every measure)"
            } else {
                ""
            }
        );
    }
    out.push_str(&table(p, id));
    out.push_str("</div></section>");
    out
}

/// A sentence saying what the chart shows, for its `<desc>`.
fn chart_description(s: &Shape) -> String {
    let mut parts = Vec::new();
    for (name, values) in s.series_names.iter().zip(&s.series_values) {
        let best = values
            .iter()
            .zip(&s.categories)
            .filter_map(|(c, k)| match c {
                Cell::Released(v) => Some((*v, k)),
                _ => None,
            })
            .max_by_key(|(v, _)| *v);
        let suppressed = values.iter().filter(|c| **c == Cell::Suppressed).count();
        let mut part = match best {
            Some((v, k)) if v > 0 => format!("{name}: highest {k} ({v})"),
            _ => format!("{name}: no released count above zero"),
        };
        if suppressed > 0 {
            let _ = write!(part, ", {suppressed} suppressed");
        }
        parts.push(part);
    }
    format!("{} categories. {}.", s.categories.len(), parts.join("; "))
}

fn value_cell(c: Cell) -> String {
    match c {
        Cell::Released(v) => format!("<td class=\"num\">{v}</td>"),
        Cell::Suppressed => format!(
            "<td class=\"num suppressed\"><abbr title=\"suppressed: a small count, not \
             shown\">{SUPPRESSED}</abbr></td>"
        ),
        Cell::Missing => "<td class=\"num missing\">–</td>".to_owned(),
    }
}

fn table(p: &Panel, id: &str) -> String {
    let t = &p.table;
    let g = t.rule().grid();
    let rule = format!(
        "counts 1 to {} shown as {SUPPRESSED}, others rounded to a multiple of {g}, give or \
         take {g}",
        t.suppress_max
    );
    let mut out = format!(
        "<table id=\"{id}-table\"><caption>{} <span class=\"rule\">({})</span></caption>",
        esc(&p.title),
        esc(&rule)
    );
    let pivot = t.group_by.len() == 2 && t.measures.len() == 1;
    if pivot {
        // Months down the side when there are any; the other dimension across.
        let rows_at = usize::from(t.group_by[1] == Dimension::Month);
        let cols_at = 1 - rows_at;
        let (dr, dc) = (t.group_by[rows_at], t.group_by[cols_at]);
        let row_keys = t.keys_of(rows_at);
        let col_keys = t.keys_of(cols_at);
        let _ = write!(out, "<thead><tr><th scope=\"col\">{}</th>", esc(dr.title()));
        for k in &col_keys {
            let _ = write!(
                out,
                "<th scope=\"col\" class=\"num\">{}</th>",
                esc(&dc.label(k))
            );
        }
        out.push_str("</tr></thead><tbody>");
        for kr in &row_keys {
            let _ = write!(out, "<tr><th scope=\"row\">{}</th>", esc(&dr.label(kr)));
            for kc in &col_keys {
                let mut keys = [*kr, *kc];
                if rows_at == 1 {
                    keys.swap(0, 1);
                }
                out.push_str(&value_cell(cell_of(t, &keys, 0)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody>");
        if let Some(total) = t.totals.first() {
            let _ = write!(
                out,
                "<tfoot><tr><th scope=\"row\">Total ({})</th>{}</tr></tfoot>",
                esc(&t.measures[0].title().to_lowercase()),
                value_cell(Cell::from(*total)).replacen(
                    "\">",
                    &format!("\" colspan=\"{}\">", col_keys.len()),
                    1
                )
            );
        }
    } else {
        out.push_str("<thead><tr>");
        for d in &t.group_by {
            let _ = write!(out, "<th scope=\"col\">{}</th>", esc(d.title()));
        }
        for m in &t.measures {
            let _ = write!(
                out,
                "<th scope=\"col\" class=\"num\">{}</th>",
                esc(m.title())
            );
        }
        out.push_str("</tr></thead><tbody>");
        for r in &t.rows {
            out.push_str("<tr>");
            for (i, (d, k)) in t.group_by.iter().zip(&r.keys).enumerate() {
                if i == 0 {
                    let _ = write!(out, "<th scope=\"row\">{}</th>", esc(&d.label(k)));
                } else {
                    let _ = write!(out, "<td>{}</td>", esc(&d.label(k)));
                }
            }
            for v in &r.values {
                out.push_str(&value_cell(Cell::from(*v)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody>");
        if t.totals.len() == t.measures.len() && !t.group_by.is_empty() {
            let _ = write!(
                out,
                "<tfoot><tr><th scope=\"row\"{}>Total</th>",
                if t.group_by.len() > 1 {
                    format!(" colspan=\"{}\"", t.group_by.len())
                } else {
                    String::new()
                }
            );
            for v in &t.totals {
                out.push_str(&value_cell(Cell::from(*v)));
            }
            out.push_str("</tr></tfoot>");
        }
    }
    out.push_str("</table>");
    out
}

/// The page a sign-in link opens: who it signs in, and a button. Pressing
/// it posts the token; merely opening the link uses nothing.
pub fn sign_in_page(org: &str, role: &str, token_hex: &str) -> String {
    let main = format!(
        "<div class=\"notice\"><h1>Sign in to the board dashboard</h1><p>This one-time link \
         signs you in as a <strong>{}</strong> of <strong>{}</strong>. It works once, and only \
         for a few minutes after it was issued.</p><form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\" \
         id=\"sign-in\" autofocus>Sign in</button></form><p>If you did not ask for this link, \
         close this page: nothing happens until the button is pressed.</p></div>",
        esc(&role.replace('_', " ")),
        esc(org),
        esc(token_hex)
    );
    document(
        "Sign in: board dashboard",
        "",
        &main,
        "<p>Concord board dashboard.</p>",
    )
}

/// A page with a heading, paragraphs and, optionally, a command to run;
/// no figures.
pub fn notice_page(heading: &str, paragraphs: &[&str], command: Option<&str>) -> String {
    let mut main = format!("<div class=\"notice\"><h1>{}</h1>", esc(heading));
    for p in paragraphs {
        let _ = write!(main, "<p>{}</p>", esc(p));
    }
    if let Some(c) = command {
        let _ = write!(main, "<pre><code>{}</code></pre>", esc(c));
    }
    main.push_str("</div>");
    document(
        &format!("{heading}: board dashboard"),
        "",
        &main,
        "<p>Concord board dashboard.</p>",
    )
}

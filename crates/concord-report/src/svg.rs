//! Inline SVG charts: horizontal bars for categories (wards, offence
//! categories, sources, ...) and a line chart for months.
//!
//! Charts draw only released values. A suppressed cell has no bar and no
//! point: its place carries the marker [`crate::SUPPRESSED`] instead, never a
//! number. Every data label has the class `value`; axis ticks have the
//! class `tick`. The SVG is `role="img"`, named by its `<title>` and
//! described by its `<desc>`; the table that follows each chart is the
//! accessible form of the same figures. Colours are the high-contrast
//! [`PALETTE`] (each at least 4.5:1 against white), and series are also told
//! apart by marker shape and dash, so the charts survive greyscale printing.

use std::fmt::Write as _;

use crate::{Cell, html::esc};

/// Series colours, darkest first; each has a contrast of at least 4.5:1
/// against white.
pub const PALETTE: [&str; 4] = ["#1d4e89", "#a3470f", "#1e6b3a", "#6b2d8f"];

/// Line dash per series (none, dashed, dotted, dash-dot).
const DASHES: [&str; 4] = ["", "8 4", "2 4", "8 4 2 4"];

/// One series of a chart: a name and a value per category.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<Cell>,
}

const WIDTH: u32 = 720;
const FONT: u32 = 13;

/// A step for axis ticks that are multiples of 5 (1 for tiny scales is
/// never needed: released values are multiples of the rounding base).
fn tick_step(max: u64) -> u64 {
    let mut base = 5u64;
    loop {
        for m in [1, 2, 5] {
            let step = base * m;
            if max.div_ceil(step) <= 5 {
                return step;
            }
        }
        base = base.saturating_mul(10);
    }
}

/// The top of the value axis and its step.
fn scale(series: &[Series<'_>]) -> (u64, u64) {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter())
        .filter_map(|c| match c {
            Cell::Released(v) => Some(*v),
            Cell::Suppressed | Cell::Missing => None,
        })
        .max()
        .unwrap_or(0)
        .max(5);
    let step = tick_step(max);
    (max.div_ceil(step) * step, step)
}

fn open_svg(out: &mut String, id: &str, height: u32, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" id=\"{id}-chart\" role=\"img\" aria-labelledby=\"{id}-title \
         {id}-desc\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" \
         font-size=\"{FONT}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        esc(title),
        esc(desc)
    );
}

fn legend(out: &mut String, series: &[Series<'_>], x0: u32, y: u32) {
    if series.len() < 2 {
        return;
    }
    let mut x = x0;
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let _ = write!(
            out,
            "<g class=\"legend-item\">{}<text x=\"{}\" y=\"{}\" fill=\"#0b0c0c\">{}</text></g>",
            marker(i, x + 6, y - 4, colour),
            x + 16,
            y,
            esc(s.name)
        );
        x += 40 + 8 * s.name.chars().count() as u32;
    }
}

/// A point marker whose shape depends on the series (circle, square,
/// triangle, diamond).
fn marker(series: usize, cx: u32, cy: u32, colour: &str) -> String {
    match series % 4 {
        0 => format!("<circle cx=\"{cx}\" cy=\"{cy}\" r=\"4.5\" fill=\"{colour}\"/>"),
        1 => format!(
            "<rect x=\"{}\" y=\"{}\" width=\"9\" height=\"9\" fill=\"{colour}\"/>",
            cx - 4,
            cy - 4
        ),
        2 => format!(
            "<path d=\"M{cx} {} L{} {} L{} {} Z\" fill=\"{colour}\"/>",
            cy - 5,
            cx + 5,
            cy + 4,
            cx - 5,
            cy + 4
        ),
        _ => format!(
            "<path d=\"M{cx} {} L{} {cy} L{cx} {} L{} {cy} Z\" fill=\"{colour}\"/>",
            cy - 5,
            cx + 5,
            cy + 5,
            cx - 5
        ),
    }
}

/// Average width of a character of the chart's font, in SVG units.
const CHAR_W: f64 = 7.8;
/// Height of a line of category label text.
const LINE_H: u32 = 15;

/// Splits a label into lines of at most `width` characters, at spaces
/// where it can (a word longer than a line is cut).
fn wrap(label: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in label.split_whitespace() {
        let fits = line.chars().count() + 1 + word.chars().count() <= width;
        if !line.is_empty() && !fits {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Horizontal bars: one row per category, one bar per series.
pub fn bars(
    id: &str,
    title: &str,
    desc: &str,
    categories: &[String],
    series: &[Series<'_>],
) -> String {
    // Labels up to 34 characters a line, wrapped beyond that.
    let longest = categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0);
    let chars = longest.clamp(8, 34);
    let label_w = (chars as f64 * CHAR_W) as u32 + 14;
    let labels: Vec<Vec<String>> = categories.iter().map(|c| wrap(c, chars)).collect();
    let right: u32 = 56;
    let plot_w = WIDTH - label_w - right;
    let bar_h: u32 = if series.len() > 1 { 12 } else { 18 };
    let gap: u32 = 10;
    let top: u32 = if series.len() > 1 { 48 } else { 28 };
    let row_h = |lines: usize| (bar_h * series.len() as u32).max(lines as u32 * LINE_H);
    let height = top + labels.iter().map(|l| row_h(l.len()) + gap).sum::<u32>() + 8;
    let (axis_max, step) = scale(series);
    let x_of = |v: u64| label_w + ((v as f64 / axis_max as f64) * f64::from(plot_w)).round() as u32;

    let mut out = String::new();
    open_svg(&mut out, id, height, title, desc);
    legend(&mut out, series, label_w, 16);
    // Grid and ticks.
    let mut t = 0;
    while t <= axis_max {
        let x = x_of(t);
        let _ = write!(
            out,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#b1b4b6\" stroke-width=\"1\"/>\
             <text class=\"tick\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\" fill=\"#505a5f\">{t}</text>",
            top - 6,
            height - 8,
            top - 10
        );
        t += step;
    }
    let mut y0 = top;
    for (row, label) in categories.iter().enumerate() {
        let lines = &labels[row];
        let group_h = row_h(lines.len());
        let bars_top = y0 + (group_h - bar_h * series.len() as u32) / 2;
        let first = y0 + (group_h - lines.len() as u32 * LINE_H) / 2 + LINE_H - 3;
        let _ = write!(
            out,
            "<text class=\"category\" x=\"{}\" y=\"{first}\" text-anchor=\"end\" fill=\"#0b0c0c\">",
            label_w - 8
        );
        for (n, line) in lines.iter().enumerate() {
            let _ = write!(
                out,
                "<tspan x=\"{}\" dy=\"{}\">{}</tspan>",
                label_w - 8,
                if n == 0 { 0 } else { LINE_H },
                esc(line)
            );
        }
        out.push_str("</text>");
        for (i, s) in series.iter().enumerate() {
            let y = bars_top + i as u32 * bar_h;
            let text_y = y + bar_h / 2 + FONT / 2 - 1;
            let colour = PALETTE[i % PALETTE.len()];
            match s.values.get(row).copied().unwrap_or(Cell::Suppressed) {
                Cell::Released(v) => {
                    let x_end = x_of(v);
                    let w = x_end - label_w;
                    if w > 0 {
                        let _ = write!(
                            out,
                            "<rect class=\"bar\" x=\"{label_w}\" y=\"{y}\" width=\"{w}\" \
                             height=\"{}\" fill=\"{colour}\"><title>{}: {} {v}</title></rect>",
                            bar_h - 2,
                            esc(label),
                            esc(s.name)
                        );
                    }
                    let _ = write!(
                        out,
                        "<text class=\"value\" x=\"{}\" y=\"{text_y}\" fill=\"#0b0c0c\">{v}</text>",
                        x_end + 5
                    );
                }
                other => {
                    let _ = write!(
                        out,
                        "<text class=\"value suppressed\" x=\"{}\" y=\"{text_y}\" \
                         fill=\"#0b0c0c\" font-style=\"italic\">{other}</text>",
                        label_w + 5
                    );
                }
            }
        }
        y0 += group_h + gap;
    }
    // The value axis.
    let _ = write!(
        out,
        "<line x1=\"{label_w}\" y1=\"{}\" x2=\"{label_w}\" y2=\"{}\" stroke=\"#0b0c0c\" \
         stroke-width=\"1.5\"/></svg>",
        top - 6,
        height - 8
    );
    out
}

/// A line chart over months: one line per series, broken where a value is
/// suppressed (the marker sits on the axis there).
pub fn line(id: &str, title: &str, desc: &str, months: &[String], series: &[Series<'_>]) -> String {
    let left: u32 = 56;
    let right: u32 = 24;
    let top: u32 = if series.len() > 1 { 48 } else { 28 };
    let plot_h: u32 = 220;
    let bottom: u32 = 44;
    let height = top + plot_h + bottom;
    let plot_w = WIDTH - left - right;
    let (axis_max, step) = scale(series);
    let n = months.len().max(1) as u32;
    let x_of = |i: usize| left + plot_w * (2 * i as u32 + 1) / (2 * n);
    let y_of =
        |v: u64| top + plot_h - ((v as f64 / axis_max as f64) * f64::from(plot_h)).round() as u32;
    let base_y = top + plot_h;

    let mut out = String::new();
    open_svg(&mut out, id, height, title, desc);
    legend(&mut out, series, left, 16);
    let mut t = 0;
    while t <= axis_max {
        let y = y_of(t);
        let _ = write!(
            out,
            "<line x1=\"{left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#b1b4b6\" stroke-width=\"1\"/>\
             <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#505a5f\">{t}</text>",
            WIDTH - right,
            left - 8,
            y + FONT / 2 - 1
        );
        t += step;
    }
    // Month labels ("Mar 2026"): with more than six, the month on one line
    // and the year below it where it changes; with more than twelve, every
    // other month.
    let every = if n > 12 { 2 } else { 1 };
    let split = n > 6;
    let mut last_year = "";
    for (i, m) in months.iter().enumerate() {
        if i % every != 0 {
            continue;
        }
        let (month, year) = match m.split_once(' ') {
            Some((a, b)) if split => (a, b),
            _ => (m.as_str(), ""),
        };
        let _ = write!(
            out,
            "<text class=\"category\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" \
             fill=\"#0b0c0c\">{}",
            x_of(i),
            base_y + 20,
            esc(month)
        );
        if !year.is_empty() && year != last_year {
            let _ = write!(
                out,
                "<tspan x=\"{}\" dy=\"{LINE_H}\">{}</tspan>",
                x_of(i),
                esc(year)
            );
            last_year = year;
        }
        out.push_str("</text>");
    }
    for (si, s) in series.iter().enumerate() {
        let colour = PALETTE[si % PALETTE.len()];
        let dash = DASHES[si % DASHES.len()];
        // Runs of consecutive released points become one polyline each.
        let mut run: Vec<(u32, u32)> = Vec::new();
        let mut runs: Vec<Vec<(u32, u32)>> = Vec::new();
        for (i, c) in s.values.iter().enumerate() {
            match c {
                Cell::Released(v) => run.push((x_of(i), y_of(*v))),
                Cell::Suppressed | Cell::Missing => runs.push(std::mem::take(&mut run)),
            }
        }
        runs.push(run);
        for r in runs.iter().filter(|r| r.len() > 1) {
            let points: Vec<String> = r.iter().map(|(x, y)| format!("{x},{y}")).collect();
            let _ = write!(
                out,
                "<polyline class=\"series\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" \
                 stroke-width=\"2.5\"{}/>",
                points.join(" "),
                if dash.is_empty() {
                    String::new()
                } else {
                    format!(" stroke-dasharray=\"{dash}\"")
                }
            );
        }
        // Labels of even series sit above their points, of odd series below,
        // unless that would reach the month labels.
        let label_y = |y: u32| -> i64 {
            let below = i64::from(y) + 18;
            if si % 2 == 1 && below < i64::from(base_y) - 2 {
                below
            } else {
                (i64::from(y) - 9).max(12)
            }
        };
        for (i, (c, month)) in s.values.iter().zip(months).enumerate() {
            let x = x_of(i);
            match c {
                Cell::Released(v) => {
                    let y = y_of(*v);
                    let _ = write!(
                        out,
                        "<g class=\"point\">{}<title>{}: {} {v}</title></g>\
                         <text class=\"value\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\" \
                         fill=\"#0b0c0c\">{v}</text>",
                        marker(si, x, y, colour),
                        esc(month),
                        esc(s.name),
                        label_y(y)
                    );
                }
                other => {
                    let _ = write!(
                        out,
                        "<text class=\"value suppressed\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\" \
                         fill=\"#0b0c0c\" font-style=\"italic\">{other}</text>",
                        base_y - 6 - 14 * si as u32
                    );
                }
            }
        }
    }
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{base_y}\" x2=\"{}\" y2=\"{base_y}\" stroke=\"#0b0c0c\" \
         stroke-width=\"1.5\"/></svg>",
        WIDTH - right
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_wrap_at_spaces() {
        assert_eq!(
            wrap("Hospital attendances for assault with a sharp object", 34),
            vec!["Hospital attendances for assault", "with a sharp object"]
        );
        assert_eq!(wrap("Abingdon", 34), vec!["Abingdon"]);
        assert_eq!(wrap("", 34), vec![""]);
    }

    #[test]
    fn ticks_are_multiples_of_five() {
        assert_eq!(tick_step(5), 5);
        assert_eq!(tick_step(25), 5);
        assert_eq!(tick_step(30), 10);
        assert_eq!(tick_step(95), 25);
        assert_eq!(tick_step(240), 50);
        assert_eq!(tick_step(12_345), 2500);
    }

    #[test]
    fn suppressed_cells_get_no_bar_and_no_number() {
        let cats = vec!["Abingdon".to_owned(), "Campden".to_owned()];
        let s = [Series {
            name: "Records",
            values: vec![Cell::Suppressed, Cell::Released(15)],
        }];
        let svg = bars("p", "t", "d", &cats, &s);
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 1);
        assert!(svg.contains(">[c]</text>"));
        assert!(svg.contains(">15</text>"));
        let svg = line("p", "t", "d", &cats, &s);
        assert!(svg.contains(">[c]</text>"));
        assert!(
            !svg.contains("<polyline"),
            "one released point draws no line"
        );
    }
}

//! The report rendered from a real dashboard (counted and protected by
//! `concord-disclosure`), read back as text: every panel is there, each
//! chart is accessible, the ward breakdown has 18 wards, nothing is
//! fetched, and no figure in a table, chart or headline is a small number.

use chrono::{NaiveDate, TimeZone as _, Utc};
use concord_core::{
    AgeBand, LocationType, PersonRole, RBKC_WARDS, RecordKind, Source, ViolenceCategory, Weapon,
};
use concord_disclosure::{
    Dashboard, DashboardPeriod, FactInput, FactSet, PANELS, Rule, build_dashboard,
};
use concord_report::{PageContext, Viewer, dashboard_page, report};
use proptest::prelude::*;

fn crime(i: u32, ward: &str, day: u32) -> FactInput {
    FactInput {
        source: Source::Police,
        kind: RecordKind::Crime,
        role: Some(PersonRole::Victim),
        event_date: NaiveDate::from_ymd_opt(2026, 10, 1 + day % 28).unwrap(),
        day_precise: true,
        event_hour: Some((i % 24) as u8),
        ward_code: Some(ward.to_owned()),
        category: Some(
            [
                ViolenceCategory::Gbh,
                ViolenceCategory::Robbery,
                ViolenceCategory::Abh,
            ][i as usize % 3],
        ),
        weapon: Some(if i.is_multiple_of(2) {
            Weapon::KnifeSharp
        } else {
            Weapon::Body
        }),
        location_type: Some(LocationType::Street),
        age_band: Some(if i.is_multiple_of(3) {
            AgeBand::A18To24
        } else {
            AgeBand::A25To34
        }),
        sex: None,
        flag_domestic_abuse: i.is_multiple_of(5),
        flag_under_25: false,
        person: Some(i64::from(i)),
    }
}

/// Crimes in October 2026: `counts[w]` in ward `w`.
fn dashboard(counts: &[u32], rule: Rule) -> Dashboard {
    let mut facts = Vec::new();
    let mut i = 0;
    for (w, n) in counts.iter().enumerate() {
        let ward = RBKC_WARDS[w % RBKC_WARDS.len()].0;
        for _ in 0..*n {
            facts.push(crime(i, ward, i));
            i += 1;
        }
    }
    let period = DashboardPeriod::parse("2026-10").unwrap();
    build_dashboard(&FactSet::new(facts), &period, rule)
}

fn ctx() -> PageContext {
    PageContext {
        viewer: Some(Viewer {
            user: "board-member-1".into(),
            org: "skc-board".into(),
            role: "board_member".into(),
        }),
        generated_at: Utc.with_ymd_and_hms(2026, 11, 2, 9, 30, 0).unwrap(),
    }
}

/// The texts of elements whose opening tag contains `marker`, up to the
/// next `<`.
fn texts_after<'a>(html: &'a str, marker: &str) -> Vec<&'a str> {
    html.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &html[i..];
            let start = rest.find('>')? + 1;
            let end = rest[start..].find('<')?;
            Some(rest[start..start + end].trim())
        })
        .collect()
}

/// Every figure a reader sees: table cells, chart value labels, headline
/// figures (the marker sits inside an `<abbr>` in table cells).
fn figures(html: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for marker in [
        "<td class=\"num",
        "<text class=\"value",
        "<span class=\"figure value",
    ] {
        for t in texts_after(html, marker) {
            out.push(if t.is_empty() {
                "[c]".into()
            } else {
                t.to_owned()
            });
        }
    }
    out
}

fn check_figures(html: &str, rule: Rule) -> usize {
    let figs = figures(html);
    for f in &figs {
        if f == "[c]" || f == "–" {
            continue;
        }
        let n: u64 = f
            .parse()
            .unwrap_or_else(|_| panic!("a figure that is not a count: {f:?}"));
        // Released figures are multiples of the rule's grid, at least one
        // step (which lies above the threshold).
        let least = rule.grid();
        assert!(least > u64::from(rule.suppress_max));
        assert!(
            n == 0 || (n >= least && n.is_multiple_of(rule.grid())),
            "figure {n} is small or unrounded under {rule:?}"
        );
    }
    figs.len()
}

#[test]
fn the_report_has_every_panel_with_accessible_charts() {
    let rule = Rule::new(9, 5).unwrap();
    let d = dashboard(&[23, 14, 12, 3, 2, 0, 40], rule);
    let html = report(&d, &ctx());

    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<html lang=\"en-GB\">"));
    assert!(html.contains("<title>Board report: October 2026</title>"));
    assert_eq!(html.matches("<section class=\"panel").count(), PANELS.len());
    for p in PANELS {
        let title = p.title.replace('&', "&amp;").replace('\'', "&#39;");
        assert!(html.contains(&format!(">{title}</h2>")), "{title}");
    }

    // Charts: an SVG per drawable panel, each named, described, captioned.
    let svgs = html.matches("<svg class=\"chart\"").count();
    assert!(svgs >= 10, "{svgs} charts");
    assert_eq!(html.matches("role=\"img\"").count(), svgs);
    assert_eq!(html.matches("<figcaption").count(), svgs);
    assert_eq!(html.matches("<desc id=").count(), svgs);
    for (i, _) in html.match_indices("aria-labelledby=\"") {
        let ids = &html[i + 17..];
        let ids = &ids[..ids.find('"').unwrap()];
        for id in ids.split(' ') {
            assert!(
                html.contains(&format!("id=\"{id}\"")),
                "aria-labelledby names {id}"
            );
        }
    }
    // Tables: one per panel, each with a caption and scoped headers.
    assert_eq!(html.matches("<table").count(), PANELS.len());
    assert_eq!(html.matches("<caption>").count(), PANELS.len());
    assert_eq!(
        html.matches("<th>").count(),
        0,
        "every header cell has a scope"
    );

    // The ward breakdown: 18 rows, small wards suppressed, others rounded.
    let start = html.find("id=\"panel-sv-by-ward-table\"").unwrap();
    let wards = &html[start..start + html[start..].find("</table>").unwrap()];
    let body = &wards[wards.find("<tbody>").unwrap()..wards.find("</tbody>").unwrap()];
    assert_eq!(body.matches("<tr>").count(), 18);
    for (_, name) in RBKC_WARDS {
        let escaped = name.replace('&', "&amp;").replace('\'', "&#39;");
        assert!(body.contains(&escaped), "{name}");
    }
    assert!(body.contains("<th scope=\"row\">Chelsea Riverside</th><td class=\"num suppressed\">"));
    assert!(body.contains("<th scope=\"row\">Abingdon</th><td class=\"num\">30</td>"));

    // The legend names the rule; the marker is explained.
    assert!(html.contains("Counts from 1 to 9 are not shown"));
    assert!(html.contains("rounded to a multiple of 15"));
    assert!(
        html.contains(concord_report::ADD_UP),
        "the page says what may be added up"
    );

    let n = check_figures(&html, rule);
    assert!(n > 150, "{n} figures checked");
    assert!(figures(&html).iter().any(|f| f == "[c]"));
}

#[test]
fn the_report_fetches_nothing_and_runs_nothing() {
    let d = dashboard(&[23, 14], Rule::DEFAULT);
    for html in [report(&d, &ctx()), dashboard_page(&d, &ctx())] {
        let lower = html.to_lowercase();
        for banned in [
            "<script",
            "<link",
            "<img",
            "<iframe",
            "src=",
            "@import",
            "url(",
            "javascript:",
        ] {
            assert!(!lower.contains(banned), "{banned}");
        }
        // The only absolute URL is the SVG namespace, which is never fetched.
        let urls = lower.matches("http://").count() + lower.matches("https://").count();
        assert_eq!(
            urls,
            lower
                .matches("xmlns=\"http://www.w3.org/2000/svg\"")
                .count()
        );
        // Print styles are inline.
        assert!(html.contains("@media print"));
    }
}

#[test]
fn the_web_page_has_controls_and_the_report_has_none() {
    let d = dashboard(&[23], Rule::DEFAULT);
    let page = dashboard_page(&d, &ctx());
    assert!(page.contains("action=\"/logout\""));
    assert!(page.contains("<label for=\"period\">"));
    assert!(page.contains("Signed in as <strong>board-member-1</strong>"));
    assert!(page.contains("class=\"skip-link\" href=\"#main\""));
    let report = report(&d, &ctx());
    assert!(!report.contains("<form"));
}

#[test]
fn text_is_escaped() {
    let mut d = dashboard(&[23], Rule::DEFAULT);
    d.panels[0].title = "<script>alert(1)</script>".into();
    d.panels[0].description = "\"quoted\" & 'single'".into();
    let html = report(&d, &ctx());
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;quoted&quot; &amp; &#39;single&#39;"));
}

#[test]
fn an_empty_dashboard_still_renders() {
    let d = dashboard(&[], Rule::DEFAULT);
    let html = report(&d, &ctx());
    assert_eq!(html.matches("<section class=\"panel").count(), PANELS.len());
    check_figures(&html, Rule::DEFAULT);
    assert!(
        !figures(&html).iter().any(|f| f == "[c]"),
        "zeros are not suppressed"
    );
}

/// Relative luminance contrast of a `#rrggbb` colour against white.
fn contrast_with_white(hex: &str) -> f64 {
    let c = |i: usize| {
        let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5);
    1.05 / (l + 0.05)
}

#[test]
fn the_palette_has_high_contrast() {
    for colour in concord_report::PALETTE {
        let ratio = contrast_with_white(colour);
        assert!(ratio >= 4.5, "{colour}: {ratio:.2}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the counts and the policy's rule, no small or unrounded
    /// number is ever written where a reader sees figures.
    #[test]
    fn no_small_number_is_ever_shown(
        counts in proptest::collection::vec(0u32..40, 1..18),
        suppress_max in 3u32..12,
        base in prop_oneof![Just(1u32), Just(5), Just(10)],
    ) {
        let rule = Rule::new(suppress_max, base).unwrap();
        let d = dashboard(&counts, rule);
        check_figures(&report(&d, &ctx()), rule);
        check_figures(&dashboard_page(&d, &ctx()), rule);
    }
}

//! A self-drawn SVG chart of a simulation: replicas as a step line on the left
//! axis, utilization as a line on the right axis, the target dashed, and the
//! time spent above 90% of the limit (the summary's OOM risk) shaded.
//!
//! Every coordinate goes through `fmt_num`, which never prints NaN or infinity,
//! and the only text is numbers and fixed words, so nothing needs escaping.

use super::engine::Row;
use super::output::{clock, is_unix_time};
use super::scenario::Scenario;
use super::summary::OOM_RISK_PERMILLE;
use std::fmt::Write;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 540.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 890.0;
const TOP: f64 = 80.0;
const BOTTOM: f64 = 470.0;
const REPLICAS_COLOR: &str = "#1f77b4";
const UTIL_COLOR: &str = "#d62728";
const TARGET_COLOR: &str = "#7f7f7f";
const OOM_RISK_COLOR: &str = "#ff9896";
/// Utilization above this is drawn at the top edge rather than flattening the chart.
const MAX_UTIL_AXIS: i64 = 1000;

/// Maps data to the plot area.
struct Frame {
    t0: f64,
    t1: f64,
    replicas_max: i64,
    replicas_step: i64,
    util_max: i64,
    util_step: i64,
}

impl Frame {
    fn x(&self, t: i64) -> f64 {
        LEFT + (t as f64 - self.t0) / (self.t1 - self.t0) * (RIGHT - LEFT)
    }

    fn y_replicas(&self, r: i64) -> f64 {
        BOTTOM - (r.clamp(0, self.replicas_max) as f64 / self.replicas_max as f64) * (BOTTOM - TOP)
    }

    fn y_util(&self, u: i64) -> f64 {
        BOTTOM - (u.clamp(0, self.util_max) as f64 / self.util_max as f64) * (BOTTOM - TOP)
    }
}

pub fn chart(s: &Scenario, rows: &[Row]) -> String {
    let f = frame(s, rows);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#,
        w = WIDTH,
        h = HEIGHT
    );
    let _ = writeln!(
        svg,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    title(&mut svg, s);
    axes(&mut svg, &f);
    oom_risk_bands(&mut svg, &f, rows);
    target_line(&mut svg, &f, s.policy.target_utilization);
    replicas_line(&mut svg, &f, rows);
    util_lines(&mut svg, &f, rows);
    legend(&mut svg, s.policy.target_utilization);
    svg.push_str("</svg>\n");
    svg
}

fn frame(s: &Scenario, rows: &[Row]) -> Frame {
    let t0 = rows.first().map_or(0, |r| r.t) as f64;
    let mut t1 = rows.last().map_or(0, |r| r.t) as f64;
    if t1 <= t0 {
        t1 = t0 + 60.0;
    }
    let top_replicas = rows
        .iter()
        .map(|r| r.current_replicas.max(r.desired_replicas))
        .chain([1])
        .max()
        .unwrap_or(1);
    let top_util = rows
        .iter()
        .filter_map(|r| r.utilization_percentage)
        .chain([100, s.policy.target_utilization])
        .max()
        .unwrap_or(100)
        .min(MAX_UTIL_AXIS);
    // A tenth of headroom keeps the replica line off the frame's top edge.
    let (replicas_max, replicas_step) = axis(top_replicas + (top_replicas + 9) / 10);
    let (util_max, util_step) = axis(top_util);
    Frame {
        t0,
        t1,
        replicas_max,
        replicas_step,
        util_max,
        util_step,
    }
}

/// A round tick step (1, 2, 2.5 or 5 times a power of 10, whole numbers only)
/// giving at most 8 intervals, and the axis top: the first tick at or above `top`.
fn axis(top: i64) -> (i64, i64) {
    let top = top.max(1);
    let mut scale = 1i64;
    for _ in 0..18 {
        for m in [10i64, 20, 25, 50] {
            let step = (m.saturating_mul(scale) / 10).max(1);
            let intervals = (top + step - 1) / step;
            if intervals <= 8 {
                return (intervals * step, step);
            }
        }
        scale = scale.saturating_mul(10);
    }
    (top, top)
}

fn fmt_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "0".into()
    }
}

fn title(svg: &mut String, s: &Scenario) {
    let p = &s.policy;
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="28" font-size="18" font-weight="bold">memhpa simulate: replicas and memory utilization</text>"#,
        LEFT
    );
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="48" fill="#444">target {}% of {}, replicas {} to {}, scale-down stabilization {} s</text>"##,
        LEFT,
        p.target_utilization,
        p.basis.as_str(),
        p.min_replicas,
        p.max_replicas,
        p.scale_down.stabilization_window_seconds
    );
}

/// A tick's label: hh:mm, or for a Unix time its UTC `MM-DD hh:mm` (the
/// year would only crowd the axis).
fn tick_label(t: i64, unix: bool) -> String {
    let full = clock(t);
    match (unix, full.get(5..)) {
        (true, Some(short)) => short.to_string(),
        _ => full,
    }
}

fn axes(svg: &mut String, f: &Frame) {
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        RIGHT - LEFT,
        BOTTOM - TOP
    );
    // Time ticks at a round interval giving at most 12 labels, or 7 of the
    // wider date-and-time labels of Unix times (a replayed history).
    let unix = is_unix_time(f.t0 as i64);
    let most = if unix { 7 } else { 12 };
    let span = (f.t1 - f.t0) as i64;
    let step = [
        60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800,
    ]
    .into_iter()
    .find(|s| span / s <= most)
    .unwrap_or_else(|| (span / most).max(1));
    let first = ((f.t0 as i64 + step - 1) / step) * step;
    for t in (first..=f.t1 as i64).step_by(step as usize).take(50) {
        let x = fmt_num(f.x(t));
        let _ = writeln!(
            svg,
            r##"<line x1="{x}" y1="{TOP}" x2="{x}" y2="{BOTTOM}" stroke="#eee"/>"##
        );
        let _ = writeln!(
            svg,
            r#"<text x="{x}" y="{}" text-anchor="middle">{}</text>"#,
            BOTTOM + 18.0,
            tick_label(t, unix)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (LEFT + RIGHT) / 2.0,
        BOTTOM + 42.0,
        if unix { "time (UTC)" } else { "time (hh:mm)" }
    );
    for r in (0..=f.replicas_max)
        .step_by(f.replicas_step as usize)
        .take(50)
    {
        let y = fmt_num(f.y_replicas(r));
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{y}" text-anchor="end" dominant-baseline="middle" fill="{REPLICAS_COLOR}">{r}</text>"#,
            LEFT - 8.0
        );
    }
    for u in (0..=f.util_max).step_by(f.util_step as usize).take(50) {
        let y = fmt_num(f.y_util(u));
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y}" x2="{RIGHT}" y2="{y}" stroke="#eee"/>"##
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{y}" dominant-baseline="middle" fill="{UTIL_COLOR}">{u}%</text>"#,
            RIGHT + 8.0
        );
    }
    let mid = (TOP + BOTTOM) / 2.0;
    let _ = writeln!(
        svg,
        r#"<text x="22" y="{mid}" text-anchor="middle" fill="{REPLICAS_COLOR}" transform="rotate(-90 22 {mid})">replicas</text>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{x}" y="{mid}" text-anchor="middle" fill="{UTIL_COLOR}" transform="rotate(90 {x} {mid})">memory utilization</text>"#,
        x = WIDTH - 22.0
    );
}

fn target_line(svg: &mut String, f: &Frame, target: i64) {
    let y = fmt_num(f.y_util(target));
    let _ = writeln!(
        svg,
        r#"<line x1="{LEFT}" y1="{y}" x2="{RIGHT}" y2="{y}" stroke="{TARGET_COLOR}" stroke-width="1.5" stroke-dasharray="6 4"/>"#
    );
}

/// The stretches of time above 90% of the limit, as `(from, to)` in seconds:
/// a step counts from its `t` to the next step's, as in the summary, so the
/// last step (which lasts no time) adds none, and adjacent steps join.
fn oom_risk_spans(rows: &[Row]) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = Vec::new();
    for pair in rows.windows(2) {
        let (step, next) = (&pair[0], &pair[1]);
        if !step.limit_permille.is_some_and(|p| p > OOM_RISK_PERMILLE) || next.t <= step.t {
            continue;
        }
        match spans.last_mut() {
            Some(last) if last.1 == step.t => last.1 = next.t,
            _ => spans.push((step.t, next.t)),
        }
    }
    spans
}

/// Drawn under the lines, the full height of the plot.
fn oom_risk_bands(svg: &mut String, f: &Frame, rows: &[Row]) {
    for (from, to) in oom_risk_spans(rows) {
        let x = f.x(from);
        let _ = writeln!(
            svg,
            r#"<rect class="oom-risk" x="{}" y="{TOP}" width="{}" height="{}" fill="{OOM_RISK_COLOR}" fill-opacity="0.35"/>"#,
            fmt_num(x),
            fmt_num(f.x(to) - x),
            BOTTOM - TOP
        );
    }
}

/// Desired replicas hold from one step to the next: a step line, with a
/// corner only where the count changes.
fn replicas_line(svg: &mut String, f: &Frame, rows: &[Row]) {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return;
    };
    let mut points = vec![point(f.x(first.t), f.y_replicas(first.desired_replicas))];
    for pair in rows.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        if after.desired_replicas != before.desired_replicas {
            points.push(point(f.x(after.t), f.y_replicas(before.desired_replicas)));
            points.push(point(f.x(after.t), f.y_replicas(after.desired_replicas)));
        }
    }
    points.push(point(f.x(last.t), f.y_replicas(last.desired_replicas)));
    polyline(svg, &points, REPLICAS_COLOR);
}

/// Utilization, broken wherever a step had no measurement.
fn util_lines(svg: &mut String, f: &Frame, rows: &[Row]) {
    for segment in rows.split(|r| r.utilization_percentage.is_none()) {
        let points: Vec<String> = segment
            .iter()
            .filter_map(|r| {
                r.utilization_percentage
                    .map(|u| point(f.x(r.t), f.y_util(u)))
            })
            .collect();
        if !points.is_empty() {
            polyline(svg, &points, UTIL_COLOR);
        }
    }
}

fn point(x: f64, y: f64) -> String {
    format!("{},{}", fmt_num(x), fmt_num(y))
}

fn polyline(svg: &mut String, points: &[String], color: &str) {
    let _ = writeln!(
        svg,
        r#"<polyline fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round" points="{}"/>"#,
        points.join(" ")
    );
}

fn legend(svg: &mut String, target: i64) {
    let items = [
        (REPLICAS_COLOR, "", "replicas (left axis)".to_string()),
        (
            UTIL_COLOR,
            "",
            "memory utilization (right axis)".to_string(),
        ),
        (
            TARGET_COLOR,
            r#" stroke-dasharray="6 4""#,
            format!("target {target}%"),
        ),
    ];
    let mut x = LEFT;
    let y = TOP - 14.0;
    for (color, dash, label) in items {
        let _ = writeln!(
            svg,
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="2"{dash}/>"#,
            x + 24.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{y}" dominant-baseline="middle">{label}</text>"#,
            x + 30.0
        );
        x += 40.0 + label.len() as f64 * 7.0;
    }
    let _ = writeln!(
        svg,
        r#"<rect x="{x}" y="{}" width="24" height="10" fill="{OOM_RISK_COLOR}" fill-opacity="0.35"/>"#,
        y - 5.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{y}" dominant-baseline="middle">above 90% of limit</text>"#,
        x + 30.0
    );
}

#[cfg(test)]
mod test {
    use super::*;

    fn row(t: i64, limit_permille: Option<i64>) -> Row {
        Row {
            t,
            current_replicas: 2,
            utilization_percentage: Some(50),
            recommended_replicas: Some(2),
            desired_replicas: 2,
            reason: "WithinTolerance",
            limit_permille,
            detail: None,
        }
    }

    /// The `x` and `width` of every shaded band, in order.
    fn bands(svg: &str) -> Vec<(String, String)> {
        let attr = |tag: &str, name: &str| {
            let start = tag.find(&format!(" {name}=\"")).expect("attribute") + name.len() + 3;
            tag[start..].split('"').next().unwrap_or("").to_string()
        };
        svg.lines()
            .filter(|l| l.starts_with(r#"<rect class="oom-risk""#))
            .map(|l| (attr(l, "x"), attr(l, "width")))
            .collect()
    }

    #[test]
    fn bands_cover_the_time_above_90_percent_of_the_limit() {
        let s = crate::simulate::scenario::parse(
            r#"{"spec": {"maxReplicas": 4}, "replicas": 2, "limitBytes": 10,
                "steps": [{"t": 0, "totalBytes": 1}]}"#,
        )
        .expect("scenario");
        // From 0 to 1000 s: x = 70 + t * 820 / 1000.
        let rows = [
            row(0, Some(500)),
            // 100..300 above (two steps joined), 900‰ exactly is not above.
            row(100, Some(950)),
            row(200, Some(1200)),
            row(300, Some(900)),
            // No figure is not above.
            row(400, None),
            // 600..700 above; 700..1000 not.
            row(600, Some(901)),
            row(700, Some(100)),
            // The last step is above but lasts no time.
            row(1000, Some(999)),
        ];
        let svg = chart(&s, &rows);
        assert_eq!(
            bands(&svg),
            [
                ("152.0".to_string(), "164.0".to_string()),
                ("562.0".to_string(), "82.0".to_string()),
            ]
        );
        assert!(svg.contains(">above 90% of limit</text>"), "legend entry");
        // Drawn under the lines: every band comes before the first polyline.
        let last_band = svg.rfind("oom-risk").expect("bands");
        assert!(svg.find("<polyline").is_some_and(|p| p > last_band));
        // Nothing above the threshold: no band, but the legend still says what one means.
        let calm: Vec<Row> = rows.iter().map(|r| row(r.t, Some(100))).collect();
        let svg = chart(&s, &calm);
        assert!(bands(&svg).is_empty());
        assert!(svg.contains(">above 90% of limit</text>"));
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(axis(128), (140, 20));
        assert_eq!(axis(100), (100, 20));
        assert_eq!(axis(11), (12, 2));
        assert_eq!(axis(1), (1, 1));
        assert_eq!(axis(0), (1, 1));
        assert_eq!(axis(1000), (1000, 200));
        assert_eq!(axis(10_000), (10_000, 2000));
    }
}

//! The report: a Markdown table (printed and written to `target/bench/report.md`) and a
//! bar chart of the same figures (`target/bench/report.svg`). The table's columns are
//! part of the benchmark's interface: keep them stable.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

/// One row of the main table.
pub struct Row {
    pub name: String,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    pub errors: u64,
    /// Server CPU time over wall time, in % of one core.
    pub cpu_pct: f64,
    pub peak_rss_mib: f64,
}

/// A write scenario with and without group commit.
pub struct Comparison {
    pub name: String,
    pub grouped: f64,
    pub single: f64,
    pub single_p99_ms: f64,
    pub single_errors: u64,
}

pub struct Report {
    pub title: String,
    /// SQLite, the default engine: the first table.
    pub rows: Vec<Row>,
    pub comparisons: Vec<Comparison>,
    /// The same scenarios on PostgreSQL (`--postgres`); empty when not run.
    pub postgres: Vec<Row>,
    pub notes: Vec<String>,
}

/// The main table's columns, "vs baseline" against the `baseline` row of the same rows.
fn table(out: &mut String, rows: &[Row]) {
    out.push_str(
        "| scenario | req/s | p50 ms | p99 ms | requests | errors | server CPU | peak RSS MiB | vs baseline |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let base = rows.iter().find(|r| r.name == "baseline").map(|r| r.rate);
    for r in rows {
        let ratio = base
            .filter(|b| *b > 0.0)
            .map(|b| format!("{:.0} %", 100.0 * r.rate / b))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.2} | {} | {} | {:.0} % | {:.1} | {} |",
            r.name,
            r.rate,
            r.p50_ms,
            r.p99_ms,
            r.requests,
            r.errors,
            r.cpu_pct,
            r.peak_rss_mib,
            ratio
        );
    }
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.title);
        table(&mut out, &self.rows);
        if !self.comparisons.is_empty() {
            out.push_str(
                "\nGroup commit against one commit per request (`database.group_commit = false`), \
                 both with `synchronous = full`:\n\n\
                 | scenario | group commit req/s | one commit per request req/s | ratio | one-commit p99 ms | one-commit errors |\n\
                 |---|---:|---:|---:|---:|---:|\n",
            );
            for c in &self.comparisons {
                let ratio = if c.single > 0.0 {
                    c.grouped / c.single
                } else {
                    0.0
                };
                let _ = writeln!(
                    out,
                    "| {} | {:.0} | {:.0} | {:.1}× | {:.2} | {} |",
                    c.name, c.grouped, c.single, ratio, c.single_p99_ms, c.single_errors
                );
            }
        }
        if !self.postgres.is_empty() {
            out.push_str(
                "\nPostgreSQL (`database.url`; a fresh database, the same scenarios and fixtures; \
                 group commit is SQLite's, so no comparison):\n\n",
            );
            table(&mut out, &self.postgres);
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }

    /// Horizontal bars of req/s per scenario (then the one-commit-per-request runs and
    /// the PostgreSQL runs).
    pub fn svg(&self, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
        let mut bars: Vec<(String, f64, RGBColor)> = self
            .rows
            .iter()
            .map(|r| (r.name.clone(), r.rate, RGBColor(0x2b, 0x6c, 0xb0)))
            .collect();
        for c in &self.comparisons {
            bars.push((
                format!("{} (1 commit/req)", c.name),
                c.single,
                RGBColor(0xc0, 0x56, 0x21),
            ));
        }
        for r in &self.postgres {
            bars.push((
                format!("{} (PostgreSQL)", r.name),
                r.rate,
                RGBColor(0x2f, 0x85, 0x5a),
            ));
        }
        let max = bars.iter().map(|b| b.1).fold(1.0, f64::max) * 1.18;
        let n = bars.len();
        let height = 80 + 34 * n as u32;
        let root = SVGBackend::new(path, (960, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(190)
            .build_cartesian_2d(0.0..max, 0.0..n as f64)?;
        let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n * 2 + 1)
            .y_label_formatter(&|y| {
                let i = (n as f64 - y - 0.5).round();
                let centred = (n as f64 - y - 0.5 - i).abs() < 1e-6;
                match (centred, names.get(i as usize)) {
                    (true, Some(name)) if i >= 0.0 => name.clone(),
                    _ => String::new(),
                }
            })
            .x_desc("requests per second")
            .draw()?;
        for (i, (_, rate, color)) in bars.iter().enumerate() {
            let top = n as f64 - i as f64 - 0.15;
            let bottom = n as f64 - i as f64 - 0.85;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, bottom), (*rate, top)],
                color.filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("{rate:.0}"),
                (*rate + max * 0.01, n as f64 - i as f64 - 0.35),
                ("sans-serif", 13),
            )))?;
        }
        root.present()?;
        Ok(())
    }
}

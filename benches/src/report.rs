//! The figures of a run: each with its peer's beside it and the ratio, printed as one table
//! and written as JSON. Knows nothing of how a figure was measured.

use serde_json::{Value, json};
use std::fmt::Write as _;

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Debug, Clone)]
pub struct Figure {
    /// The benchmark it belongs to: `start-up`, `throughput`, ...
    pub section: &'static str,
    pub name: String,
    pub unit: &'static str,
    pub waci: Option<f64>,
    pub peer: Option<f64>,
    pub better: Better,
}

impl Figure {
    /// How many times better waci is than its peer (> 1: waci is better), whichever way the
    /// figure improves. `None` without both figures.
    pub fn ratio(&self) -> Option<f64> {
        let (w, p) = (self.waci?, self.peer?);
        if w <= 0.0 || p <= 0.0 {
            return None;
        }
        Some(match self.better {
            Better::Higher => w / p,
            Better::Lower => p / w,
        })
    }
}

/// What ran where: every figure means something only on its machine.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cores: usize,
    pub model: String,
    pub memory_gib: f64,
    pub kernel: String,
    /// Median `write` + `fsync` of 4 KiB in the data dir's file system: SQLite commits pay it.
    pub fsync_ms: f64,
    /// `tool → version` of waci's peers and load generators.
    pub tools: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub mode: String,
    pub machine: Machine,
    pub figures: Vec<Figure>,
    /// Who each section's peer is and how it was measured, one line per section.
    pub peers: Vec<(&'static str, String)>,
    /// Wall-clock seconds each section took.
    pub durations: Vec<(&'static str, f64)>,
    /// What a reader should know about a section's figures.
    pub notes: Vec<String>,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        section: &'static str,
        name: impl Into<String>,
        unit: &'static str,
        better: Better,
        waci: Option<f64>,
        peer: Option<f64>,
    ) {
        self.figures.push(Figure {
            section,
            name: name.into(),
            unit,
            waci,
            peer,
            better,
        });
    }

    pub fn peer(&mut self, section: &'static str, who: impl Into<String>) {
        self.peers.push((section, who.into()));
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// The table, as Markdown (it reads as plain text too and pastes into the README).
    pub fn table(&self) -> String {
        let rows: Vec<[String; 4]> = self
            .figures
            .iter()
            .map(|f| {
                [
                    f.name.clone(),
                    value(f.waci, f.unit),
                    value(f.peer, f.unit),
                    f.ratio()
                        .map(|r| format!("{r:.2}×"))
                        .unwrap_or_else(|| "–".into()),
                ]
            })
            .collect();
        let head = [
            "figure".to_string(),
            "waci".into(),
            "peer".into(),
            "ratio (>1: waci better)".into(),
        ];
        let mut width = head.clone().map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String; 4]| {
            let mut s = String::from("|");
            for (i, (c, w)) in cells.iter().zip(width).enumerate() {
                let pad = w - c.chars().count();
                if i == 0 {
                    let _ = write!(s, " {c}{} |", " ".repeat(pad));
                } else {
                    let _ = write!(s, " {}{c} |", " ".repeat(pad));
                }
            }
            s.push('\n');
            s
        };
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "Machine: {} cores, {}, {:.0} GiB, Linux {}; fsync of 4 KiB in the data dir: {:.1} ms (median)",
            m.cores, m.model, m.memory_gib, m.kernel, m.fsync_ms
        );
        let tools: Vec<String> = m.tools.iter().map(|(t, v)| format!("{t} {v}")).collect();
        let _ = writeln!(out, "Peers and tools: {}", tools.join(", "));
        let _ = writeln!(out, "Run: {}\n", self.mode);
        out.push_str(&line(&head));
        let rule = width.map(|w| "-".repeat(w));
        out.push_str(&format!(
            "|-{}-|-{}:|-{}:|-{}:|\n",
            rule[0], rule[1], rule[2], rule[3]
        ));
        for r in &rows {
            out.push_str(&line(r));
        }
        if !self.peers.is_empty() {
            out.push_str("\nPeers:\n");
            for (section, who) in &self.peers {
                let _ = writeln!(out, "- {section}: {who}");
            }
        }
        if !self.notes.is_empty() {
            out.push_str("\nNotes:\n");
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        let took: Vec<String> = self
            .durations
            .iter()
            .map(|(s, secs)| format!("{s} {secs:.0} s"))
            .collect();
        let _ = writeln!(out, "\nTook: {}", took.join(", "));
        out
    }

    pub fn json(&self) -> Value {
        let m = &self.machine;
        json!({
            "mode": self.mode,
            "machine": {
                "cores": m.cores, "model": m.model, "memory_gib": m.memory_gib,
                "kernel": m.kernel, "fsync_ms": m.fsync_ms,
                "tools": m.tools.iter().map(|(t, v)| json!({"tool": t, "version": v})).collect::<Vec<_>>(),
            },
            "figures": self.figures.iter().map(|f| json!({
                "section": f.section, "name": f.name, "unit": f.unit,
                "waci": f.waci, "peer": f.peer, "ratio": f.ratio(),
                "better": match f.better { Better::Higher => "higher", Better::Lower => "lower" },
            })).collect::<Vec<_>>(),
            "peers": self.peers.iter().map(|(s, w)| json!({"section": s, "peer": w})).collect::<Vec<_>>(),
            "notes": self.notes,
            "durations_s": self.durations.iter().map(|(s, d)| json!({"section": s, "seconds": d})).collect::<Vec<_>>(),
        })
    }
}

/// A figure with its unit, rounded to what the measurement can tell.
pub fn value(v: Option<f64>, unit: &str) -> String {
    let Some(v) = v else {
        return "–".into();
    };
    let number = if v.abs() >= 1000.0 {
        thousands(v.round() as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if unit.is_empty() {
        number
    } else {
        format!("{number} {unit}")
    }
}

fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: f64, unit: &str, expected: &str) {
        assert_eq!(value(Some(v), unit), expected);
    }

    #[test]
    fn values_are_rounded_to_what_they_tell() {
        check(1234567.4, "req/s", "1,234,567 req/s");
        check(123.4, "ms", "123 ms");
        check(12.34, "ms", "12.3 ms");
        check(0.4567, "ms", "0.46 ms");
        check(1000.0, "", "1,000");
    }

    #[test]
    fn ratio_is_above_one_when_waci_is_better() {
        let f = |better, waci, peer| Figure {
            section: "s",
            name: "n".into(),
            unit: "ms",
            waci: Some(waci),
            peer: Some(peer),
            better,
        };
        assert_eq!(f(Better::Lower, 1.0, 4.0).ratio(), Some(4.0));
        assert_eq!(f(Better::Higher, 1.0, 4.0).ratio(), Some(0.25));
        assert_eq!(f(Better::Higher, 0.0, 4.0).ratio(), None);
    }
}

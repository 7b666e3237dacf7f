//! The side-by-side comparison of two runs: per phase, rate A/B and latency B/A, so a figure
//! above 1 always means the first server (Ensemble) is ahead.

use serde_json::{Map, Value, json};

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// `x / y` when both are positive; otherwise nothing can be said.
fn ratio(x: Option<f64>, y: Option<f64>) -> Option<f64> {
    match (x, y) {
        (Some(x), Some(y)) if x > 0.0 && y > 0.0 => Some((x / y * 100.0).round() / 100.0),
        _ => None,
    }
}

/// Phases present in both `a` and `b` (each a map of phase name to summary), in `a`'s order.
pub fn ratios(a: &Map<String, Value>, b: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (name, pa) in a {
        let Some(pb) = b.get(name) else { continue };
        out.insert(
            name.clone(),
            json!({
                "rate_a": num(pa, "rate"), "rate_b": num(pb, "rate"),
                "rate_ratio": ratio(num(pa, "rate"), num(pb, "rate")),
                "p50_a_ms": num(pa, "p50_ms"), "p50_b_ms": num(pb, "p50_ms"),
                "p50_speedup": ratio(num(pb, "p50_ms"), num(pa, "p50_ms")),
                "p99_a_ms": num(pa, "p99_ms"), "p99_b_ms": num(pb, "p99_ms"),
                "p99_speedup": ratio(num(pb, "p99_ms"), num(pa, "p99_ms")),
                "cpu_ratio": ratio(num(pb, "server_cpu_secs"), num(pa, "server_cpu_secs")),
            }),
        );
    }
    Value::Object(out)
}

fn cell(v: &Value, key: &str, suffix: &str) -> String {
    match v.get(key).and_then(Value::as_f64) {
        Some(x) if x >= 100.0 => format!("{x:.0}{suffix}"),
        Some(x) => format!("{x:.2}{suffix}"),
        None => "-".into(),
    }
}

/// A fixed-width text table of `ratios` for the operator, rows in `order` (the order the phases
/// ran; JSON objects here are sorted by name).
pub fn table(ratios: &Value, order: &[String], a: &str, b: &str) -> String {
    let mut s = format!("A = {a}\nB = {b}\n");
    s += &format!(
        "{:<14} {:>10} {:>10} {:>8} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8}\n",
        "phase", "rate A/s", "rate B/s", "A/B", "p50 A ms", "p50 B ms", "B/A", "p99 A ms", "p99 B ms", "B/A"
    );
    for name in order {
        if let Some(r) = ratios.get(name) {
            s += &format!(
                "{:<14} {:>10} {:>10} {:>8} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8}\n",
                name,
                cell(r, "rate_a", ""),
                cell(r, "rate_b", ""),
                cell(r, "rate_ratio", "x"),
                cell(r, "p50_a_ms", ""),
                cell(r, "p50_b_ms", ""),
                cell(r, "p50_speedup", "x"),
                cell(r, "p99_a_ms", ""),
                cell(r, "p99_b_ms", ""),
                cell(r, "p99_speedup", "x"),
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phases(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn ratios_favour_a_above_one() {
        let a = phases(json!({"send": {"rate": 5000.0, "p50_ms": 5.0, "p99_ms": 16.0}, "only_a": {"rate": 1.0}}));
        let b = phases(json!({"send": {"rate": 100.0, "p50_ms": 250.0, "p99_ms": 800.0}}));
        let r = ratios(&a, &b);
        assert_eq!(r["send"]["rate_ratio"], 50.0);
        assert_eq!(r["send"]["p50_speedup"], 50.0);
        assert_eq!(r["send"]["p99_speedup"], 50.0);
        assert!(r.get("only_a").is_none());
    }

    #[test]
    fn missing_or_zero_figures_give_no_ratio() {
        let a = phases(json!({"purge": {"rate": 0.0, "p50_ms": 0.0}}));
        let b = phases(json!({"purge": {"rate": 2.0}}));
        let r = ratios(&a, &b);
        assert!(r["purge"]["rate_ratio"].is_null());
        assert!(r["purge"]["p50_speedup"].is_null());
        assert!(r["purge"]["cpu_ratio"].is_null());
    }

    #[test]
    fn table_has_a_row_per_phase() {
        let a =
            phases(json!({"send": {"rate": 5000.0, "p50_ms": 5.0, "p99_ms": 16.0}, "wake": {"rate": 10.0, "p50_ms": 1.5, "p99_ms": 3.0}}));
        let b =
            phases(json!({"send": {"rate": 100.0, "p50_ms": 250.0, "p99_ms": 800.0}, "wake": {"rate": 5.0, "p50_ms": 3.0, "p99_ms": 9.0}}));
        let order = ["wake".to_owned(), "send".to_owned(), "absent".to_owned()];
        let t = table(&ratios(&a, &b), &order, "http://127.0.0.1:1", "http://127.0.0.1:2");
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert!(lines[4].starts_with("send") && lines[4].contains("50.00x"), "{t}");
        assert!(lines[3].starts_with("wake") && lines[3].contains("2.00x") && lines[3].contains("3.00x"), "{t}");
    }
}

//! Latency samples and their summary: count, seconds, rate and nearest-rank percentiles.

use serde_json::{Value, json};

/// What one phase measured: a latency per completed operation, the failures, the wall time.
#[derive(Debug, Default, Clone)]
pub struct Sample {
    pub lat_ms: Vec<f64>,
    pub errors: usize,
    pub first_error: Option<String>,
    pub seconds: f64,
}

impl Sample {
    pub fn fail(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }

    pub fn merge(&mut self, other: Sample) {
        self.lat_ms.extend(other.lat_ms);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Nearest-rank percentile of an ascending slice (`p` in 0..=1); 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The phase's JSON: count, errors, seconds, rate (completed per second), p50/p90/p99/max in ms.
pub fn summarize(sample: &Sample) -> Value {
    let mut lat = sample.lat_ms.clone();
    lat.sort_by(f64::total_cmp);
    let rate = if sample.seconds > 0.0 { lat.len() as f64 / sample.seconds } else { 0.0 };
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let mut v = json!({
        "count": lat.len(),
        "errors": sample.errors,
        "seconds": round(sample.seconds),
        "rate": round(rate),
        "p50_ms": round(percentile(&lat, 0.50)),
        "p90_ms": round(percentile(&lat, 0.90)),
        "p99_ms": round(percentile(&lat, 0.99)),
        "max_ms": round(lat.last().copied().unwrap_or(0.0)),
    });
    if let Some(e) = &sample.first_error {
        v["first_error"] = json!(e);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.50), 50.0);
        assert_eq!(percentile(&v, 0.90), 90.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        // Out-of-range p is clamped rather than indexing past the end.
        assert_eq!(percentile(&[1.0, 2.0], 3.0), 2.0);
    }

    #[test]
    fn summary_orders_and_rates() {
        let s = Sample { lat_ms: vec![3.0, 1.0, 2.0, 10.0], errors: 1, first_error: Some("boom".into()), seconds: 2.0 };
        let v = summarize(&s);
        assert_eq!(v["count"], 4);
        assert_eq!(v["errors"], 1);
        assert_eq!(v["rate"], 2.0);
        assert_eq!(v["p50_ms"], 2.0);
        assert_eq!(v["max_ms"], 10.0);
        assert_eq!(v["first_error"], "boom");
        let empty = summarize(&Sample::default());
        assert_eq!(empty["rate"], 0.0);
        assert_eq!(empty["max_ms"], 0.0);
        assert!(empty.get("first_error").is_none());
    }

    #[test]
    fn merge_keeps_the_first_error() {
        let mut a = Sample { lat_ms: vec![1.0], ..Sample::default() };
        let mut b = Sample { lat_ms: vec![2.0], ..Sample::default() };
        b.fail("second".into());
        b.fail("third".into());
        a.merge(b);
        assert_eq!(a.lat_ms, vec![1.0, 2.0]);
        assert_eq!(a.errors, 2);
        assert_eq!(a.first_error.as_deref(), Some("second"));
    }
}

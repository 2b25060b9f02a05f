//! Writes metric families onto prometheus-client's encoder: one call per family, with a
//! label set per series or none, from values read at scrape time.

use std::fmt;

use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric, NoLabelSet,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// The families of one scrape, written in the order they are called.
pub(super) struct Families<'a>(pub(super) DescriptorEncoder<'a>);

impl Families<'_> {
    /// A gauge without labels.
    pub(super) fn gauge(
        &mut self,
        name: &str,
        help: &str,
        value: impl EncodeGaugeValue,
    ) -> fmt::Result {
        let family = self
            .0
            .encode_descriptor(name, help, None, MetricType::Gauge)?;
        ConstGauge::new(value).encode(family)
    }

    /// A counter without labels; `name` is the exported name, ending in `_total`.
    pub(super) fn counter(&mut self, name: &str, help: &str, value: u64) -> fmt::Result {
        let family =
            self.0
                .encode_descriptor(counter_base(name), help, None, MetricType::Counter)?;
        ConstCounter::new(value).encode(family)
    }

    /// A gauge with one series per label set.
    pub(super) fn gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
        &mut self,
        name: &str,
        help: &str,
        series: impl IntoIterator<Item = (L, V)>,
    ) -> fmt::Result {
        let series = series.into_iter().map(|(l, v)| (l, ConstGauge::new(v)));
        self.family(name, help, MetricType::Gauge, series)
    }

    /// A counter with one series per label set; `name` is the exported name, ending in
    /// `_total`.
    pub(super) fn counters<L: EncodeLabelSet>(
        &mut self,
        name: &str,
        help: &str,
        series: impl IntoIterator<Item = (L, u64)>,
    ) -> fmt::Result {
        let series = series.into_iter().map(|(l, v)| (l, ConstCounter::new(v)));
        self.family(counter_base(name), help, MetricType::Counter, series)
    }

    /// A histogram without labels: `buckets` are (upper bound, observations in that
    /// bucket alone); the `+Inf` bucket is `count`.
    pub(super) fn histogram(
        &mut self,
        name: &str,
        help: &str,
        sum: f64,
        count: u64,
        buckets: &[(f64, u64)],
    ) -> fmt::Result {
        self.0
            .encode_descriptor(name, help, None, MetricType::Histogram)?
            .encode_histogram::<NoLabelSet>(sum, count, buckets, None)
    }

    fn family<L: EncodeLabelSet, M: EncodeMetric>(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        series: impl Iterator<Item = (L, M)>,
    ) -> fmt::Result {
        let mut family = self.0.encode_descriptor(name, help, None, kind)?;
        for (labels, metric) in series {
            metric.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// The name a counter is registered under: prometheus-client appends `_total` itself, and
/// the exported names are written in full where they are used so that they can be found.
fn counter_base(name: &str) -> &str {
    debug_assert!(name.ends_with("_total"), "counter {name} without _total");
    name.strip_suffix("_total").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::prometheus_text;
    use prometheus_client::registry::Registry;

    use super::*;

    #[derive(Debug)]
    struct Sample;

    impl Collector for Sample {
        fn encode(&self, encoder: DescriptorEncoder) -> fmt::Result {
            let mut out = Families(encoder);
            out.counter("c_total", "A counter.", 3)?;
            out.gauges("g", "A gauge.", [([("namespace", "/a\"b\\c\nd")], 1u64)])?;
            out.histogram("h", "A histogram.", 12.0, 3, &[(1.0, 1), (10.0, 1)])
        }
    }

    #[test]
    fn names_are_kept_and_label_values_escaped() {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Sample));
        let mut text = String::new();
        prometheus_text::encode(&mut text, &registry).unwrap();
        assert_eq!(
            text,
            "# HELP c_total A counter.\n# TYPE c_total counter\nc_total 3\n\
             # HELP g A gauge.\n# TYPE g gauge\ng{namespace=\"/a\\\"b\\\\c\\nd\"} 1\n\
             # HELP h A histogram.\n# TYPE h histogram\n\
             h_bucket{le=\"1\"} 1\nh_bucket{le=\"10\"} 2\nh_bucket{le=\"+Inf\"} 3\n\
             h_sum 12.0\nh_count 3\n"
        );
    }
}

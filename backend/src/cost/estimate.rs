//! The estimated cost per hour of a spec before it exists: its minimum capacity, the on-demand base at list
//! price and the instances above it at the cached Spot price of their types in the region (the list price
//! when none is cached: never an optimistic guess). JENKINS_HOME starts empty, so storage is left out.

use std::collections::HashMap;

use crate::domain::prices::PriceList;
use crate::domain::spec::CapacitySpec;

/// An estimate and how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub usd_per_hour: f64,
    /// Some price was missing (another region's list price, or no Spot price cached).
    pub approximate: bool,
}

/// The estimate for `capacity` in `region`. `spot` maps (type, zone) to cached Spot prices of the region.
pub fn hourly(
    capacity: &CapacitySpec,
    region: &str,
    prices: &PriceList,
    spot: &HashMap<(String, String), f64>,
) -> Estimate {
    let mut approximate = false;
    let mut on_demand_prices = Vec::new();
    let mut spot_prices = Vec::new();
    for instance_type in &capacity.instance_types {
        let Some(quote) = prices.on_demand(region, instance_type) else {
            approximate = true;
            continue;
        };
        approximate |= quote.estimated;
        on_demand_prices.push(quote.usd);
        let cached: Vec<f64> = spot.iter().filter(|((t, _), _)| t == instance_type).map(|(_, usd)| *usd).collect();
        if cached.is_empty() {
            approximate = true;
            spot_prices.push(quote.usd);
        } else {
            spot_prices.push(cached.iter().sum::<f64>() / cached.len() as f64);
        }
    }
    let average =
        |values: &[f64]| if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 };
    let instances = f64::from(capacity.min);
    let base = f64::from(capacity.on_demand_base.min(capacity.min));
    let above = instances - base;
    let on_demand_share = f64::from(capacity.on_demand_percent_above_base.min(100)) / 100.0;
    let usd_per_hour = base * average(&on_demand_prices)
        + above * on_demand_share * average(&on_demand_prices)
        + above * (1.0 - on_demand_share) * average(&spot_prices);
    Estimate { usd_per_hour, approximate }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices() -> PriceList {
        serde_json::from_value(serde_json::json!({
            "source": "test", "retrieved": "2026-01-01",
            "efsStandardGbMonth": { "us-east-1": 0.30 },
            "onDemandHourly": { "us-east-1": { "m5.large": 0.10, "m6i.large": 0.10 } }
        }))
        .expect("prices")
    }

    #[test]
    fn the_base_is_priced_on_demand_and_the_rest_at_cached_spot_prices() {
        let capacity = CapacitySpec {
            instance_types: vec!["m5.large".into(), "m6i.large".into()],
            on_demand_base: 1,
            on_demand_percent_above_base: 0,
            min: 3,
            ..CapacitySpec::default()
        };
        let spot = HashMap::from([
            (("m5.large".to_owned(), "us-east-1a".to_owned()), 0.03),
            (("m6i.large".to_owned(), "us-east-1b".to_owned()), 0.05),
        ]);
        let estimate = hourly(&capacity, "us-east-1", &prices(), &spot);
        assert!((estimate.usd_per_hour - (0.10 + 2.0 * 0.04)).abs() < 1e-9, "{estimate:?}");
        assert!(!estimate.approximate);
        let unknown = hourly(&capacity, "us-east-1", &prices(), &HashMap::new());
        assert!((unknown.usd_per_hour - 0.30).abs() < 1e-9 && unknown.approximate, "list price without Spot prices");
    }
}

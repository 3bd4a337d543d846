//! The pricing arithmetic of one metered period of one environment: instance-hours by type and lifecycle,
//! what they cost (Spot at the Spot price, on-demand at the list price), what they would have cost all
//! on-demand, and JENKINS_HOME's storage. Pure: the meter feeds it what AWS reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::prices::PriceList;

/// Hours in an average month (365 × 24 / 12): EFS is priced per GB-month.
pub(crate) const HOURS_PER_MONTH: f64 = 730.0;
const BYTES_PER_GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// How an instance is bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lifecycle {
    Spot,
    OnDemand,
}

impl Lifecycle {
    /// `spot` or `on-demand`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spot => "spot",
            Self::OnDemand => "on-demand",
        }
    }
}

/// An instance seen running for an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunningInstance {
    pub instance_type: String,
    pub availability_zone: String,
    pub lifecycle: Lifecycle,
}

/// The priced period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct PeriodCost {
    /// `<type>/<lifecycle>` → hours.
    pub instance_hours: BTreeMap<String, f64>,
    pub spot_hours: f64,
    pub on_demand_hours: f64,
    /// Instances and storage, as bought.
    pub cost: f64,
    /// The same instances all on demand, plus the same storage.
    pub on_demand_cost: f64,
    pub efs_gb: f64,
    pub efs_cost: f64,
    /// A price came from another region or stood in for an unknown Spot price.
    pub estimated: bool,
}

/// Prices `instances` running for `hours` with `efs_bytes` stored, in `region`. `spot_price` gives the Spot
/// price of a type in a zone when known; an unknown Spot price is charged at the on-demand price (never
/// flattering the savings) and marks the result as estimated.
pub(crate) fn price_period(
    instances: &[RunningInstance],
    hours: f64,
    efs_bytes: u64,
    region: &str,
    prices: &PriceList,
    spot_price: &dyn Fn(&str, &str) -> Option<f64>,
) -> PeriodCost {
    let mut period = PeriodCost::default();
    if hours <= 0.0 {
        return period;
    }
    for instance in instances {
        let list = prices.on_demand(region, &instance.instance_type);
        let on_demand = list.map_or(0.0, |q| q.usd);
        period.estimated |= list.is_none_or(|q| q.estimated);
        let paid = match instance.lifecycle {
            Lifecycle::OnDemand => on_demand,
            Lifecycle::Spot => match spot_price(&instance.instance_type, &instance.availability_zone) {
                Some(price) => price,
                None => {
                    period.estimated = true;
                    on_demand
                }
            },
        };
        let key = format!("{}/{}", instance.instance_type, instance.lifecycle.as_str());
        *period.instance_hours.entry(key).or_default() += hours;
        match instance.lifecycle {
            Lifecycle::Spot => period.spot_hours += hours,
            Lifecycle::OnDemand => period.on_demand_hours += hours,
        }
        period.cost += paid * hours;
        period.on_demand_cost += on_demand * hours;
    }
    let storage = prices.efs_gb_month(region);
    period.estimated |= storage.estimated;
    period.efs_gb = efs_bytes as f64 / BYTES_PER_GB;
    period.efs_cost = period.efs_gb * storage.usd * hours / HOURS_PER_MONTH;
    period.cost += period.efs_cost;
    period.on_demand_cost += period.efs_cost;
    period
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(instance_type: &str, zone: &str, lifecycle: Lifecycle) -> RunningInstance {
        RunningInstance { instance_type: instance_type.into(), availability_zone: zone.into(), lifecycle }
    }

    fn prices() -> PriceList {
        serde_json::from_value(serde_json::json!({
            "source": "test", "retrieved": "2026-01-01",
            "efsStandardGbMonth": { "us-east-1": 0.30 },
            "onDemandHourly": { "us-east-1": { "m5.large": 0.10, "c5.large": 0.08 } }
        }))
        .expect("prices")
    }

    fn spot(instance_type: &str, zone: &str) -> Option<f64> {
        match (instance_type, zone) {
            ("m5.large", "us-east-1a") => Some(0.03),
            ("c5.large", "us-east-1b") => Some(0.02),
            _ => None,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_mix_of_spot_and_on_demand_is_priced_at_what_each_costs() {
        let running = [
            instance("m5.large", "us-east-1a", Lifecycle::OnDemand),
            instance("m5.large", "us-east-1a", Lifecycle::Spot),
            instance("c5.large", "us-east-1b", Lifecycle::Spot),
        ];
        // Five minutes, 10 GiB of JENKINS_HOME.
        let hours = 5.0 / 60.0;
        let period = price_period(&running, hours, 10 * 1024 * 1024 * 1024, "us-east-1", &prices(), &spot);
        assert!(close(period.on_demand_hours, hours) && close(period.spot_hours, 2.0 * hours));
        assert!(close(period.instance_hours["m5.large/spot"], hours));
        let efs = 10.0 * 0.30 * hours / HOURS_PER_MONTH;
        assert!(close(period.efs_cost, efs));
        assert!(close(period.cost, (0.10 + 0.03 + 0.02) * hours + efs), "{}", period.cost);
        assert!(close(period.on_demand_cost, (0.10 + 0.10 + 0.08) * hours + efs), "{}", period.on_demand_cost);
        assert!(!period.estimated);
    }

    #[test]
    fn a_restart_gap_is_accounted_by_elapsed_time() {
        let running = [instance("m5.large", "us-east-1a", Lifecycle::Spot)];
        let one = price_period(&running, 5.0 / 60.0, 0, "us-east-1", &prices(), &spot);
        // The meter was down for three intervals: the next sample covers all four, once.
        let gap = price_period(&running, 20.0 / 60.0, 0, "us-east-1", &prices(), &spot);
        assert!(close(gap.cost, 4.0 * one.cost));
        assert!(close(gap.spot_hours, 4.0 * one.spot_hours));
    }

    #[test]
    fn an_unknown_spot_price_is_charged_on_demand_and_marked_estimated() {
        let running = [instance("c5.large", "us-east-1c", Lifecycle::Spot)];
        let period = price_period(&running, 1.0, 0, "us-east-1", &prices(), &spot);
        assert!(close(period.cost, 0.08) && close(period.on_demand_cost, 0.08));
        assert!(period.estimated);
        let elsewhere = price_period(&running, 1.0, 0, "eu-west-1", &prices(), &|_, _| Some(0.02));
        assert!(elsewhere.estimated, "another region's prices stand in");
        assert!(close(price_period(&running, 0.0, 5, "us-east-1", &prices(), &spot).cost, 0.0));
    }
}

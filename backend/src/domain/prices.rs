//! Prices: on-demand hourly prices per region and instance type and EFS storage per GB-month, shipped with the
//! project (`backend/data/prices.json`, with its source and date) and overridable by a platform admin (stored
//! in `prices`, imported from a file of the same shape). Spot prices come from EC2 and are cached elsewhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The shipped price list.
const SHIPPED: &str = include_str!("../../data/prices.json");

/// The region whose prices stand in for a region the list does not have (marked as an estimate).
pub(crate) const FALLBACK_REGION: &str = "us-east-1";

/// A price list: the file format of `backend/data/prices.json` and of `butler admin prices import`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceList {
    pub source: String,
    pub retrieved: String,
    #[serde(default = "usd")]
    pub currency: String,
    /// Region → USD per GB-month of EFS Standard storage.
    pub efs_standard_gb_month: BTreeMap<String, f64>,
    /// Region → instance type → USD per hour, on demand.
    pub on_demand_hourly: BTreeMap<String, BTreeMap<String, f64>>,
}

fn usd() -> String {
    "USD".to_owned()
}

/// A price and whether it is the region's own or stands in from the fallback region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    pub usd: f64,
    pub estimated: bool,
}

impl PriceList {
    /// The list shipped with this build.
    pub fn shipped() -> Self {
        serde_json::from_str(SHIPPED).expect("backend/data/prices.json is valid (a unit test reads it)")
    }

    /// Checks an imported list: positive, finite prices only.
    pub fn validate(&self) -> Result<(), String> {
        let mut bad = Vec::new();
        for (region, price) in &self.efs_standard_gb_month {
            if !(price.is_finite() && *price >= 0.0) {
                bad.push(format!("efsStandardGbMonth.{region}"));
            }
        }
        for (region, types) in &self.on_demand_hourly {
            for (name, price) in types {
                if !(price.is_finite() && *price > 0.0) {
                    bad.push(format!("onDemandHourly.{region}.{name}"));
                }
            }
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(format!("prices must be positive numbers: {}", bad.join(", ")))
        }
    }

    /// The on-demand hourly price of `instance_type` in `region`.
    pub fn on_demand(&self, region: &str, instance_type: &str) -> Option<Quote> {
        if let Some(usd) = self.on_demand_hourly.get(region).and_then(|types| types.get(instance_type)) {
            return Some(Quote { usd: *usd, estimated: false });
        }
        self.on_demand_hourly
            .get(FALLBACK_REGION)
            .and_then(|types| types.get(instance_type))
            .map(|usd| Quote { usd: *usd, estimated: true })
    }

    /// EFS Standard storage per GB-month in `region`.
    pub(crate) fn efs_gb_month(&self, region: &str) -> Quote {
        match self.efs_standard_gb_month.get(region) {
            Some(usd) => Quote { usd: *usd, estimated: false },
            None => {
                Quote { usd: self.efs_standard_gb_month.get(FALLBACK_REGION).copied().unwrap_or(0.30), estimated: true }
            }
        }
    }

    /// Lays `other` over this list (an admin import adds or replaces prices, never removes them).
    pub(crate) fn overlay(&mut self, other: &PriceList) {
        self.source = other.source.clone();
        self.retrieved = other.retrieved.clone();
        for (region, price) in &other.efs_standard_gb_month {
            self.efs_standard_gb_month.insert(region.clone(), *price);
        }
        for (region, types) in &other.on_demand_hourly {
            let mine = self.on_demand_hourly.entry(region.clone()).or_default();
            for (name, price) in types {
                mine.insert(name.clone(), *price);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_prices_every_catalog_instance_type() {
        let list = PriceList::shipped();
        list.validate().expect("valid");
        for known in crate::domain::catalog::INSTANCE_TYPES {
            let quote = list.on_demand("us-east-1", known.name).unwrap_or_else(|| panic!("{} unpriced", known.name));
            assert!(!quote.estimated);
        }
        assert!(list.on_demand("eu-west-1", "m5.large").expect("fallback").estimated, "other regions are estimates");
        assert!(!list.source.is_empty() && !list.retrieved.is_empty(), "source and date are part of the file");
    }
}

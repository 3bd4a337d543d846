//! Cost: prices (shipped list, admin imports, cached Spot prices), the pricing arithmetic, the meter that
//! samples every environment once per interval, and the reports built from the samples.

pub mod arithmetic;
pub mod budget;
pub mod estimate;
pub mod meter;
pub mod prices;
pub mod report;

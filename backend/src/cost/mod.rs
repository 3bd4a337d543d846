//! Cost: the meter that samples every environment once per interval, and estimates. The prices and the pricing
//! arithmetic, which do no I/O, are in the domain (`domain::prices`, `domain::cost_arithmetic`); the samples,
//! budgets and the report queries, which are SQL, in the store (`store::costs`, `store::budgets`,
//! `store::cost_report`).

pub mod estimate;
pub mod meter;

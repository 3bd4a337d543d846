//! Cost pages: the platform admin's ranking of tenants (cost, savings, Spot share, month to date and the
//! projection) with a chart of daily cost per tenant drawn on the server as SVG, and one tenant's drill-down to
//! its environments (also what a tenant admin sees of their own tenant).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{Duration, NaiveDate, Utc};
use serde::Deserialize;

use super::chrome::{Chrome, PageCaller};
use super::{error_page, render};
use crate::auth::Role;
use crate::state::AppState;
use crate::store::cost_report::{self, CostReport, TenantCost};

/// The cost pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/costs", get(overview)).route("/t/{tenant}/costs", get(tenant_costs))
}

#[derive(Deserialize, Default)]
struct CostQuery {
    days: Option<i64>,
}

/// Colours of the chart's series (enough contrast on white).
const COLOURS: [&str; 6] = ["#0a55b8", "#a40e26", "#116329", "#7a4d00", "#6639ba", "#1b1f24"];

/// A bar chart of daily cost, one series per tenant (the five most expensive, the rest summed), as SVG.
pub(crate) fn daily_chart(tenants: &[TenantCost], from: NaiveDate, days: i64) -> String {
    let (width, height, left, bottom) = (720.0_f64, 240.0_f64, 56.0_f64, 28.0_f64);
    let mut series: Vec<(String, Vec<f64>)> = Vec::new();
    let day_index = |day: NaiveDate| (day - from).num_days();
    for (rank, tenant) in tenants.iter().enumerate() {
        let name = if rank < 5 { tenant.tenant.clone() } else { "others".to_owned() };
        if rank <= 5 && series.iter().all(|(n, _)| *n != name) {
            series.push((name.clone(), vec![0.0; usize::try_from(days).unwrap_or(0)]));
        }
        let values = &mut series.iter_mut().find(|(n, _)| *n == name).expect("series").1;
        for day in &tenant.days {
            if let Ok(index) = usize::try_from(day_index(day.day)) {
                if let Some(slot) = values.get_mut(index) {
                    *slot += day.totals.cost;
                }
            }
        }
    }
    let totals: Vec<f64> = (0..usize::try_from(days).unwrap_or(0))
        .map(|i| series.iter().map(|(_, v)| v.get(i).copied().unwrap_or(0.0)).sum())
        .collect();
    let max = totals.iter().copied().fold(0.0_f64, f64::max).max(0.01);
    let plot_width = width - left - 8.0;
    let plot_height = height - bottom - 8.0;
    let bar = plot_width / days.max(1) as f64;
    let mut svg = format!(
        r#"<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title chart-desc" class="chart" xmlns="http://www.w3.org/2000/svg"><title id="chart-title">Daily cost per tenant</title><desc id="chart-desc">Stacked bars, one per day from {from}; the tallest day is {max:.2} USD. The table below has the figures.</desc>"#
    );
    svg.push_str(&format!(
        r##"<line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" stroke="#57606a"/><text x="4" y="16" font-size="11" fill="#1b1f24">{max:.2} USD</text><text x="4" y="{y}" font-size="11" fill="#1b1f24">0</text>"##,
        y = 8.0 + plot_height,
        x2 = width - 8.0,
    ));
    let mut stacked = vec![0.0_f64; totals.len()];
    for (index, (name, values)) in series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        for (day, value) in values.iter().enumerate() {
            if *value <= 0.0 {
                continue;
            }
            let h = value / max * plot_height;
            let y = 8.0 + plot_height - stacked[day] - h;
            stacked[day] += h;
            svg.push_str(&format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{colour}"><title>{name}: {value:.2} USD</title></rect>"#,
                x = left + day as f64 * bar + 1.0,
                w = (bar - 2.0).max(1.0),
                name = escape(name),
            ));
        }
    }
    svg.push_str("</svg>");
    let legend: String = series
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            format!(
                r#"<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="{}"/></svg> {}</li>"#,
                COLOURS[i % COLOURS.len()],
                escape(name)
            )
        })
        .collect();
    format!(r#"{svg}<ul class="legend">{legend}</ul>"#)
}

/// The last `days` whole days, today included: from midnight `days - 1` days ago to midnight tonight.
fn whole_days(now: chrono::DateTime<Utc>, days: i64) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let midnight = now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |d| d.and_utc());
    (midnight - Duration::days(days - 1), midnight + Duration::days(1))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[derive(Template)]
#[template(path = "admin/costs.html")]
struct OverviewPage {
    chrome: Chrome,
    report: CostReport,
    chart: String,
    days: i64,
}

async fn overview(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(query): Query<CostQuery>,
) -> Response {
    if let Err(error) = caller.require_platform_admin() {
        return error_page(error);
    }
    let days = query.days.unwrap_or(30).clamp(1, 366);
    let now = Utc::now();
    let (from, to) = whole_days(now, days);
    match cost_report::build(&state.db, from, to, None, now).await {
        Ok(report) => {
            let chart = daily_chart(&report.tenants, from.date_naive(), days);
            let chrome = Chrome::new(&state, &caller, None, "admin-costs").await;
            render(&OverviewPage { chrome, report, chart, days })
        }
        Err(error) => error_page(error.into()),
    }
}

#[derive(Template)]
#[template(path = "tenant/costs.html")]
struct TenantPage {
    chrome: Chrome,
    tenant: Option<TenantCost>,
    days: i64,
}

async fn tenant_costs(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Path(tenant): Path<String>,
    Query(query): Query<CostQuery>,
) -> Response {
    if let Err(error) = caller.require(&tenant, Role::Admin) {
        return error_page(error);
    }
    let days = query.days.unwrap_or(30).clamp(1, 366);
    let now = Utc::now();
    let (from, to) = whole_days(now, days);
    match cost_report::build(&state.db, from, to, Some(&tenant), now).await {
        Ok(report) => {
            let chrome = Chrome::new(&state, &caller, Some(&tenant), "costs").await;
            render(&TenantPage { chrome, tenant: report.tenants.into_iter().next(), days })
        }
        Err(error) => error_page(error.into()),
    }
}

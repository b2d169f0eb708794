//! `GET /`: the dashboard, one self-contained page compiled into the binary
//! (no CDN, no external assets), and `GET /v1/history`, the time series it
//! draws. The page polls the JSON endpoints every two seconds.

use actix::Addr;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::http::handlers::error;
use crate::http::history::{GetHistory, History};

/// The page: HTML, CSS and JavaScript in one file.
pub const PAGE: &str = include_str!("dashboard.html");

pub(crate) async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(PAGE)
}

pub(crate) async fn history(history: web::Data<Addr<History>>) -> HttpResponse {
    match history.send(GetHistory).await {
        Ok(view) => HttpResponse::Ok().json(view),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the history recorder is not running: {e}"),
        ),
    }
}

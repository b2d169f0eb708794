//! Who may call the API: the bearer token of changing calls, the host names
//! a request may address, and JSON bodies for changing calls.
//!
//! Checked for every request, before its handler:
//! - the `Host` header, and a browser's `Origin` header, must name an
//!   allowed host (`[http] allowed_hosts`, loopback names by default), or
//!   the answer is 403: a web page cannot reach a loopback API by DNS
//!   rebinding;
//! - a changing call (any `POST` or `PUT` but the read-only `POST
//!   /v1/predict` and `/v1/rank`) must carry `Content-Type:
//!   application/json` (415 otherwise), which a cross-site HTML form cannot
//!   send, and, when a token is configured, `Authorization: Bearer
//!   <token>` (401 otherwise).
//!
//! Reads (`GET`, predict, rank) need no token.

use std::path::Path;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::config::HttpConfig;
use crate::http::handlers::error;

/// The environment variable that holds the bearer token.
pub const TOKEN_ENV: &str = "REFIT_TOKEN";

/// The access rules of a server.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The bearer token changing calls must send (none: no token needed).
    token: Option<String>,
    /// The host names allowed in `Host` and `Origin` (none: any).
    hosts: Option<Vec<String>>,
}

impl Access {
    /// The rules of `[http]`: the token from `REFIT_TOKEN`, or else from
    /// `token_file`; the allowed hosts. An unreadable or empty token file is
    /// an error naming it.
    pub fn from_config(http: &HttpConfig) -> std::io::Result<Self> {
        let token = match std::env::var(TOKEN_ENV) {
            Ok(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
            _ => match &http.token_file {
                Some(path) => Some(read_token(path)?),
                None => None,
            },
        };
        Ok(Self {
            token,
            hosts: (!http.allowed_hosts.iter().any(|h| h == "*")).then(|| {
                http.allowed_hosts
                    .iter()
                    .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
                    .collect()
            }),
        })
    }

    /// These rules with `token` required of changing calls.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Whether a token is required.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The answer refusing `req`, when a rule refuses it.
    fn refusal(&self, req: &HttpRequest) -> Option<HttpResponse> {
        if let Some(hosts) = &self.hosts {
            let headers = req.headers();
            if let Some(host) = headers.get(header::HOST) {
                let name = host.to_str().ok().map(host_name);
                if !name.is_some_and(|n| hosts.contains(&n)) {
                    return Some(error(
                        StatusCode::FORBIDDEN,
                        format!("host {host:?} is not allowed (add it to [http] allowed_hosts)"),
                    ));
                }
            }
            if let Some(origin) = headers.get(header::ORIGIN) {
                let name = origin
                    .to_str()
                    .ok()
                    .and_then(|o| o.split_once("://"))
                    .map(|(_, rest)| host_name(rest));
                if !name.is_some_and(|n| hosts.contains(&n)) {
                    return Some(error(
                        StatusCode::FORBIDDEN,
                        format!(
                            "origin {origin:?} is not allowed (add its host to [http] allowed_hosts)"
                        ),
                    ));
                }
            }
        }
        if !changes(req) {
            return None;
        }
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if !json {
            return Some(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "a call that changes something takes a JSON body (Content-Type: application/json)",
            ));
        }
        let token = self.token.as_deref()?;
        let sent = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if sent.is_some_and(|s| same(s.trim().as_bytes(), token.as_bytes())) {
            return None;
        }
        let mut answer = error(
            StatusCode::UNAUTHORIZED,
            "this call needs the API token: Authorization: Bearer <token>",
        );
        answer.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        Some(answer)
    }
}

/// The middleware applying the server's [`Access`] (from its app data).
pub(crate) async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let refused = req
        .app_data::<web::Data<Access>>()
        .and_then(|a| a.refusal(req.request()));
    match refused {
        Some(answer) => Ok(req.into_response(answer).map_into_right_body()),
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

/// Whether `req` changes something: any `POST` or `PUT` but the read-only
/// predictions.
fn changes(req: &HttpRequest) -> bool {
    let read_only = ["/v1/predict", "/v1/rank"];
    (req.method() == Method::POST || req.method() == Method::PUT)
        && !read_only.contains(&req.path())
}

/// The host name of a `Host` value or an origin's authority, lower case,
/// without port or IPv6 brackets.
fn host_name(authority: &str) -> String {
    let authority = authority.trim().trim_end_matches('/');
    let name = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    name.to_ascii_lowercase()
}

/// Compares in time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn read_token(path: &Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("reading the token file {}: {e}", path.display()),
        )
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the token file {} is empty", path.display()),
        ));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_ports_and_brackets() {
        assert_eq!(host_name("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_name("LocalHost"), "localhost");
        assert_eq!(host_name("[::1]:9000"), "::1");
        assert_eq!(host_name("evil.example:80/"), "evil.example");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret2"));
    }
}

//! The API's JSON bodies.

/// Any bytes as the body of a `POST /api/v1/...` route: the first byte picks the route
/// (emit, disconnect, join/leave), the rest is the body, decoded and checked as the route
/// does before it acts.
pub fn api_json(data: &[u8]) {
    let Some((&route, body)) = data.split_first() else {
        return;
    };
    crate::api::fuzz_body(route, body);
}

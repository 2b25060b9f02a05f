//! The websocket transport without an actor of its own: the session writes encoded frames
//! into an [`Outbox`] that the HTTP response body drains (several frames per write when a
//! backlog builds), and reads an [`Inbound`] stream of decoded frames that it adds to its own
//! context. One actor per connection, one mailbox hop from a broadcaster to the writer, and
//! an outgoing backlog the session can measure and bound.

mod inbound;
mod outbox;

use actix_web::{web, HttpRequest, HttpResponse};

pub use inbound::{Inbound, WsEvent};
pub use outbox::{Outbox, OutboxStream};

/// Answers a websocket upgrade request: the `101` response whose body streams the outbox,
/// the outbox to write into, and the stream of the client's frames (messages up to
/// `max_message` bytes).
pub fn accept(
    req: &HttpRequest,
    payload: web::Payload,
    max_message: usize,
) -> Result<(HttpResponse, Outbox, Inbound), actix_web::Error> {
    let mut builder = actix_http::ws::handshake(req.head())?;
    let outbox = Outbox::new();
    let body = actix_web::body::BodyStream::new(outbox.stream());
    let response = builder.message_body(body)?.map_into_boxed_body();
    let inbound = Inbound::new(payload, max_message);
    Ok((HttpResponse::from(response), outbox, inbound))
}

//! Tests: a polling session answers the same whichever order one client's requests reach it
//! in. The server serves the requests of one client on several workers, so the messages
//! they send the session arrive in either order; each test drives the session in both
//! orders, with nothing left to timing.

use std::sync::Arc;
use std::time::SystemTime;

use actix::prelude::*;
use futures::channel::oneshot;

use super::test_support::unregistered;
use super::{Application, Session, SessionParams};
use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::hub_handle::Hub;
use crate::messages::{
    BeginPost, BeginUpgrade, EndPost, Poll, PollAborted, PollOutcome, PostAborted, WsIncoming,
};
use crate::socket::{HandshakeInfo, HeaderList};
use crate::ws::{Outbox, WsEvent};

/// A polling echo session whose open packet was taken; with its hub.
async fn open_session() -> (Arc<str>, Addr<Session>, Hub) {
    let hub = Hub::with_defaults();
    let params = SessionParams {
        config: Arc::new(EngineConfig::default()),
        hub: hub.clone(),
        app: Application::EngineEcho,
        handshake: Arc::new(HandshakeInfo {
            headers: HeaderList::default(),
            address: "127.0.0.1:1".into(),
            url: "/engine.io/?EIO=4&transport=polling".into(),
            issued: SystemTime::now(),
            secure: false,
        }),
    };
    let started = Session::start_polling(params);
    started.registered.await.expect("registered");
    let (sid, session) = (started.sid, started.session);
    match session.send(Poll).await.unwrap() {
        Ok(PollOutcome::Ready(body)) => assert!(body.starts_with(b"0"), "{body:?}"),
        other => panic!("the open packet, got {other:?}"),
    }
    (sid, session, hub)
}

/// A GET that waits.
async fn pending_poll(session: &Addr<Session>) -> oneshot::Receiver<bytes::Bytes> {
    match session.send(Poll).await.unwrap() {
        Ok(PollOutcome::Pending(answer)) => answer,
        other => panic!("a pending poll, got {other:?}"),
    }
}

/// A POST of `payload`, as the HTTP handler sends it.
async fn post(session: &Addr<Session>, payload: &str) -> Result<(), EngineError> {
    session.send(BeginPost).await.unwrap()?;
    let packets = siohub_protocol::decode_payload(payload.as_bytes());
    let bytes = payload.len();
    session.send(EndPost { packets, bytes }).await.unwrap()
}

/// What a GET gets from a session that may have stopped: its body, or `None` when the sid
/// is unknown.
async fn poll_now(session: &Addr<Session>) -> Option<bytes::Bytes> {
    match session.send(Poll).await {
        Ok(Ok(PollOutcome::Ready(body))) => Some(body),
        Ok(Ok(PollOutcome::Pending(answer))) => answer.await.ok(),
        Ok(Err(_)) | Err(_) => None,
    }
}

/// The official suite's "forcefully closes the session": a GET and a POST `1` sent at once.
/// The GET is answered `6` whichever reaches the session first, and the next GET finds the
/// sid unknown.
#[actix_rt::test]
async fn a_close_and_a_poll_sent_at_once_answer_noop_in_either_order() {
    for close_first in [true, false] {
        let (sid, session, hub) = open_session().await;
        let body = if close_first {
            post(&session, "1").await.unwrap();
            assert_eq!(hub.counters().closed_polling_sessions(), 1);
            poll_now(&session).await
        } else {
            let pending = pending_poll(&session).await;
            post(&session, "1").await.unwrap();
            pending.await.ok()
        };
        assert_eq!(
            body.as_deref(),
            Some(&b"6"[..]),
            "close first: {close_first}"
        );
        assert_eq!(poll_now(&session).await, None, "close first: {close_first}");
        assert!(unregistered(&hub, &sid).await);
        assert_eq!(hub.counters().closed_polling_sessions(), 0);
    }
}

/// A GET whose answer the session gave and the HTTP handler never took (the client went
/// away in between) lost its packets: the session closes, whether the client's next GET
/// reaches the session before the abort or after it.
#[actix_rt::test]
async fn a_poll_answered_and_never_delivered_closes_the_session_in_either_order() {
    for abort_first in [true, false] {
        let (sid, session, hub) = open_session().await;
        let first = pending_poll(&session).await;
        post(&session, "4hello").await.unwrap();
        // What the handler's drop does: its receiver goes, then the session is told.
        drop(first);
        let aborted = PollAborted { lost_packets: true };
        let next = if abort_first {
            session.send(aborted).await.unwrap();
            poll_now(&session).await
        } else {
            let next = pending_poll(&session).await;
            session.send(aborted).await.unwrap();
            next.await.ok()
        };
        assert!(
            matches!(next.as_deref(), None | Some(b"1")),
            "closed (abort first: {abort_first}), got {next:?}"
        );
        assert!(unregistered(&hub, &sid).await, "abort first: {abort_first}");
    }
}

/// An abort that reaches the session after the client's next GET never takes that GET
/// for the aborted one: a poll answered `6` (the noop that forces a polling cycle during
/// an upgrade) lost nothing, and the session carries on in either order.
#[actix_rt::test]
async fn a_stale_abort_leaves_the_next_poll_alone_in_either_order() {
    for abort_first in [true, false] {
        let (sid, session, hub) = open_session().await;
        let first = pending_poll(&session).await;
        // A probe answers the pending poll with `6`, then the upgrade is abandoned.
        let id = crate::session::next_transport_id();
        session.do_send(BeginUpgrade {
            outbox: Outbox::new(),
            id,
        });
        session
            .send(WsIncoming {
                id,
                event: WsEvent::Text("2probe".into()),
                credit: None,
            })
            .await
            .unwrap();
        session
            .send(WsIncoming {
                id,
                event: WsEvent::Close,
                credit: None,
            })
            .await
            .unwrap();
        drop(first);
        let aborted = PollAborted {
            lost_packets: false,
        };
        let next = if abort_first {
            session.send(aborted).await.unwrap();
            pending_poll(&session).await
        } else {
            let next = pending_poll(&session).await;
            session.send(aborted).await.unwrap();
            next
        };
        post(&session, "4still here").await.unwrap();
        assert_eq!(
            next.await.ok().as_deref(),
            Some(&b"4still here"[..]),
            "abort first: {abort_first}"
        );
        assert!(hub.registry().get(&sid).is_some());
    }
}

/// A GET the client aborted, then its next GET: the session closes as for the abort, and
/// the next GET finds the sid unknown, whether the abort's notice or the next GET reaches
/// the session first (not an overlap: the first GET is gone).
#[actix_rt::test]
async fn a_get_after_an_aborted_one_gets_the_same_answer_in_either_order() {
    for abort_first in [true, false] {
        let (sid, session, hub) = open_session().await;
        drop(pending_poll(&session).await);
        let aborted = PollAborted {
            lost_packets: false,
        };
        let next = if abort_first {
            session.send(aborted).await.unwrap();
            session.send(Poll).await
        } else {
            let next = session.send(Poll).await;
            session.send(aborted).await.ok();
            next
        };
        assert!(
            matches!(next, Err(_) | Ok(Err(EngineError::UnknownSid))),
            "the sid is unknown (abort first: {abort_first}), got {next:?}"
        );
        assert!(unregistered(&hub, &sid).await, "abort first: {abort_first}");
    }
}

/// A POST whose client went away mid-body, then the client's next POST: the session closes
/// whether the abort's notice or the next POST reaches it first (the reference server
/// closes on both: an aborted data request, an overlapping one).
#[actix_rt::test]
async fn a_post_after_an_aborted_one_finds_the_session_closed_in_either_order() {
    for abort_first in [true, false] {
        let (sid, session, hub) = open_session().await;
        session.send(BeginPost).await.unwrap().unwrap();
        let next = if abort_first {
            session.send(PostAborted).await.unwrap();
            session.send(BeginPost).await
        } else {
            let next = session.send(BeginPost).await;
            session.send(PostAborted).await.ok();
            next
        };
        assert!(
            matches!(next, Err(_) | Ok(Err(_))),
            "refused (abort first: {abort_first}), got {next:?}"
        );
        assert!(unregistered(&hub, &sid).await, "abort first: {abort_first}");
    }
}

/// During an upgrade the client's GET and its `2probe` travel on two connections: the GET
/// is answered `6` (the noop that lets the client pause polling) whether it reaches the
/// session before the probe or after it.
#[actix_rt::test]
async fn a_poll_during_an_upgrade_gets_noop_in_either_order() {
    for probe_first in [true, false] {
        let (_, session, _hub) = open_session().await;
        let id = crate::session::next_transport_id();
        session.do_send(BeginUpgrade {
            outbox: Outbox::new(),
            id,
        });
        let probe = || WsIncoming {
            id,
            event: WsEvent::Text("2probe".into()),
            credit: None,
        };
        let body = if probe_first {
            session.send(probe()).await.unwrap();
            poll_now(&session).await
        } else {
            let pending = pending_poll(&session).await;
            session.send(probe()).await.unwrap();
            pending.await.ok()
        };
        assert_eq!(
            body.as_deref(),
            Some(&b"6"[..]),
            "probe first: {probe_first}"
        );
    }
}

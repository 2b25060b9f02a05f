//! A small HTTP backend the webhook tests start themselves (actix-web on its own thread and
//! a free port of the loopback), recording every call (`/hold` answers only once the test
//! releases it; `/too-large`, `/limited`, `/bad`, `/forbidden` and `/fail` answer 413, 429,
//! 400, 403 and 500; `/not-json` and `/huge` answer 200 with HTML and with a reply of
//! [`HUGE_REPLY`] bytes).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

/// One call the backend received.
#[derive(Debug, Clone)]
pub struct Call {
    /// The path called (shown when an assertion on the calls fails).
    #[allow(dead_code)]
    pub path: String,
    /// The JSON body.
    pub body: Value,
    /// The `X-Siohub-Signature` header, if any.
    pub signature: Option<String>,
    /// The raw body.
    pub raw: Vec<u8>,
}

/// The running backend.
pub struct Backend {
    /// Where it listens.
    pub addr: SocketAddr,
    calls: Arc<Mutex<Vec<Call>>>,
    released: Arc<AtomicBool>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<thread::JoinHandle<()>>,
}

/// How long `/slow` takes to answer.
pub const SLOW: Duration = Duration::from_millis(1500);

/// The size of `/huge`'s reply, in bytes.
pub const HUGE_REPLY: usize = 64 * 1024;

/// The longest `/hold` waits for [`Backend::release`].
pub const HOLD_MAX: Duration = Duration::from_secs(30);

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    calls: web::Data<Arc<Mutex<Vec<Call>>>>,
    released: web::Data<Arc<AtomicBool>>,
) -> HttpResponse {
    let path = req.path().to_owned();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    calls.lock().unwrap().push(Call {
        path: path.clone(),
        body: json.clone(),
        signature: req
            .headers()
            .get("x-siohub-signature")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        raw: body.to_vec(),
    });
    match path.as_str() {
        "/ok" => HttpResponse::Ok().json(json!({
            "echo": json["payload"],
            "action": json["action"],
            "user": json["user"],
        })),
        "/slow" => {
            actix_rt::time::sleep(SLOW).await;
            HttpResponse::Ok().json(json!({ "slow": true }))
        }
        "/hold" => {
            let deadline = std::time::Instant::now() + HOLD_MAX;
            while !released.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                actix_rt::time::sleep(Duration::from_millis(10)).await;
            }
            HttpResponse::Ok().json(json!({ "held": true }))
        }
        "/fail" => HttpResponse::InternalServerError().body("boom"),
        "/too-large" => {
            HttpResponse::PayloadTooLarge().json(json!({ "message": "too big for us" }))
        }
        "/limited" => HttpResponse::TooManyRequests().finish(),
        "/bad" => {
            HttpResponse::BadRequest().json(json!({ "error": { "message": "no such action" } }))
        }
        "/not-json" => HttpResponse::Ok().content_type("text/html").body("<html>"),
        // A JSON reply of HUGE_REPLY bytes (over the hub's max_payload in the tests).
        "/huge" => HttpResponse::Ok()
            .content_type("application/json")
            .body(format!("\"{}\"", "x".repeat(HUGE_REPLY - 2))),
        "/forbidden" => HttpResponse::Forbidden().json(json!({ "message": "not for you" })),
        _ => HttpResponse::NotFound().finish(),
    }
}

impl Backend {
    /// Starts the backend on a free port.
    pub fn start() -> Backend {
        Self::start_on(0)
    }

    /// Starts the backend on `port` of the loopback (0 = a free one).
    pub fn start_on(port: u16) -> Backend {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let released = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let (shared, shared_released) = (calls.clone(), released.clone());
        let thread = thread::spawn(move || {
            let system = actix_rt::System::new();
            system.block_on(async move {
                let data = web::Data::new(shared);
                let released = web::Data::new(shared_released);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .app_data(released.clone())
                        .default_service(web::to(answer))
                })
                .workers(2)
                .disable_signals()
                .shutdown_timeout(1)
                .bind(("127.0.0.1", port))
                .expect("the backend binds");
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).unwrap();
                let _ = server.await;
            });
        });
        let (addr, handle) = rx.recv().expect("the backend starts");
        Backend {
            addr,
            calls,
            released,
            handle,
            thread: Some(thread),
        }
    }

    /// The URL of `path` on this backend.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Lets every call to `/hold`, waiting or to come, answer.
    pub fn release(&self) {
        self.released.store(true, Ordering::SeqCst);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        futures::executor::block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A URL on which nothing listens.
pub fn dead_url() -> String {
    format!("http://127.0.0.1:{}/hook", super::free_port())
}

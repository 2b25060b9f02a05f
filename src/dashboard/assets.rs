//! The dashboard's files, compiled into the binary: the page (`index.html`, with the
//! Socket.IO path and the files' versions filled in once at start-up), its stylesheet,
//! the Socket.IO client (`sio.js`), the charts (`charts.js`) and the page's code
//! (`dashboard.js`).
//!
//! The page is revalidated on every load (`no-cache` with an `ETag`); the files it names
//! carry their content's digest in the URL (`?v=`), so they are cached for a year and a
//! new build is fetched at once.

use sha2::{Digest, Sha256};

const INDEX_HTML: &str = include_str!("assets/index.html");
const STYLE_CSS: &str = include_str!("assets/style.css");
const SIO_JS: &str = include_str!("assets/sio.js");
const CHARTS_JS: &str = include_str!("assets/charts.js");
const DASHBOARD_JS: &str = include_str!("assets/dashboard.js");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// Caching of the page itself: revalidated on every load.
const REVALIDATE: &str = "no-cache";
/// Caching of the versioned files the page names.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One file as served: body, type, validator and caching.
#[derive(Debug, Clone)]
pub struct Asset {
    /// The bytes served.
    pub body: actix_web::web::Bytes,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `ETag` (quoted), from the body's digest.
    pub etag: String,
    /// `Cache-Control`.
    pub cache_control: &'static str,
}

impl Asset {
    /// `body` served as `content_type`, cached as `cache_control` says.
    pub fn new(body: String, content_type: &'static str, cache_control: &'static str) -> Self {
        let etag = format!("\"{}\"", &digest(&body)[..20]);
        Asset {
            body: body.into(),
            content_type,
            etag,
            cache_control,
        }
    }
}

/// Hex SHA-256 of `text`.
fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file of the dashboard.
#[derive(Debug)]
pub struct Assets {
    page: Asset,
    files: Vec<(&'static str, Asset)>,
}

impl Assets {
    /// The files, with the page pointed at the Socket.IO endpoint on `socketio_path`.
    pub fn new(socketio_path: &str) -> Self {
        let files = vec![
            ("style.css", STYLE_CSS, "text/css; charset=utf-8"),
            ("sio.js", SIO_JS, "text/javascript; charset=utf-8"),
            ("charts.js", CHARTS_JS, "text/javascript; charset=utf-8"),
            (
                "dashboard.js",
                DASHBOARD_JS,
                "text/javascript; charset=utf-8",
            ),
            ("favicon.svg", FAVICON_SVG, "image/svg+xml"),
        ];
        let mut page = INDEX_HTML.replace("{{path}}", &html_attribute(socketio_path));
        let files = files
            .into_iter()
            .map(|(name, text, content_type)| {
                let asset = Asset::new(text.to_owned(), content_type, IMMUTABLE);
                let version = asset.etag.trim_matches('"').to_owned();
                page = page.replace(&format!("{{{{v:{name}}}}}"), &version);
                (name, asset)
            })
            .collect();
        Assets {
            page: Asset::new(page, "text/html; charset=utf-8", REVALIDATE),
            files,
        }
    }

    /// The page at `/dashboard`.
    pub fn page(&self) -> &Asset {
        &self.page
    }

    /// The file `/dashboard/{name}`, if there is one.
    pub fn file(&self, name: &str) -> Option<&Asset> {
        self.files
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, asset)| asset)
    }

    /// The versioned URL of the file `name` (`/dashboard/style.css?v=…`).
    pub fn url(&self, name: &str) -> Option<String> {
        self.file(name)
            .map(|asset| format!("/dashboard/{name}?v={}", asset.etag.trim_matches('"')))
    }
}

/// `text` escaped for an HTML attribute value or text.
pub fn html_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_file_by_its_version() {
        let assets = Assets::new("/socket.io/");
        let page = std::str::from_utf8(&assets.page().body).unwrap();
        assert!(!page.contains("{{"), "a placeholder is left: {page}");
        for name in ["style.css", "sio.js", "charts.js", "dashboard.js"] {
            let url = assets.url(name).unwrap();
            assert!(page.contains(&url), "{url} not in the page");
        }
        assert!(page.contains("data-path=\"/socket.io/\""));
    }

    #[test]
    fn the_path_is_escaped_into_the_page() {
        let assets = Assets::new("/a\"b<c>/");
        let page = std::str::from_utf8(&assets.page().body).unwrap();
        assert!(page.contains("data-path=\"/a&quot;b&lt;c&gt;/\""));
    }

    #[test]
    fn unknown_files_are_none() {
        let assets = Assets::new("/socket.io/");
        assert!(assets.file("../Cargo.toml").is_none());
        assert!(assets.file("index.html").is_none());
    }
}

import Foundation
import Rules

/// `GET /ui`: the playground — one static page (HTML, CSS and plain JavaScript; no framework, nothing fetched from
/// elsewhere, works offline). The three live as files in `HTTP/Assets/` and are compiled into the binary as bytes
/// (SwiftPM's `embedInCode` resources, `PackageResources`); the page inlines the style and the script, and its Content-Security-Policy allows
/// exactly those two by their SHA-256 (no `'unsafe-inline'`). It holds no data itself: everything it shows comes
/// from the documented endpoints (`/v1/timeline`, `/v1/entitlements`, `/v1/check` with explain, `/v1/catalog`,
/// `/v1/outline`, `/v1/routes`), which need the `check` role when keys are configured; a key typed into the page is
/// kept in the tab only (sessionStorage).
enum PlaygroundPage {
    static func handle(_ req: HTTPRequest, _ context: inout RequestContext) -> HTTPResponse {
        HTTPResponse(
            status: 200, body: page.body, contentType: "text/html; charset=utf-8",
            headers: [
                ("Cache-Control", "no-cache"), ("Content-Security-Policy", page.policy),
                ("X-Content-Type-Options", "nosniff"),
            ])
    }

    /// The page assembled once: the HTML with the style and the script in place, and the policy naming them.
    static let page: (body: [UInt8], policy: String) = {
        let style = "\n" + text(PackageResources.playground_css)
        let script = "\n" + text(PackageResources.playground_js)
        let html = text(PackageResources.playground_html).replacingOccurrences(of: "{{playground.css}}", with: style)
            .replacingOccurrences(of: "{{playground.js}}", with: script)
        let policy =
            "default-src 'none'; script-src '\(hash(script))'; style-src '\(hash(style))'; connect-src 'self'; "
            + "img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
        return (Array(html.utf8), policy)
    }()

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// A CSP source expression for an inline element's text: `sha256-` and the base64 of its UTF-8 SHA-256.
    static func hash(_ text: String) -> String {
        "sha256-" + Data(SHA256.hash(text.utf8)).base64EncodedString()
    }
}

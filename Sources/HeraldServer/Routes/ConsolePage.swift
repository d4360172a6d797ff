import Foundation
import HeraldCore
import HeraldTokens

/// `GET /console` with `--dev` on a loopback address: a page to connect, subscribe, watch pushes
/// arrive, publish a test event and see the server's figures (CLIENT.md). It uses `/herald.js`,
/// asks `/console/token` for tokens, and holds the generated publish key, which is why it is
/// never served otherwise. `?demo` runs one round on its own (the browser test uses it).
enum ConsolePage {
    /// The page, with the development publish key written in.
    static func html(publishKey: String) -> String {
        template.replacingOccurrences(of: "__PUBLISH_KEY__", with: scriptLiteral(publishKey))
    }

    /// `text` as a JavaScript string literal that is safe inside `<script>`: JSON, with `<`, `>`,
    /// `&` and the line separators escaped, so no value can close the script or the page's markup.
    static func scriptLiteral(_ text: String) -> String {
        var literal = ""
        for character in String(decoding: JSON.encode(JSONValue.string(text)), as: UTF8.self).unicodeScalars {
            switch character {
            case "<": literal += "\\u003c"
            case ">": literal += "\\u003e"
            case "&": literal += "\\u0026"
            case "\u{2028}": literal += "\\u2028"
            case "\u{2029}": literal += "\\u2029"
            default: literal.unicodeScalars.append(character)
            }
        }
        return literal
    }

    /// `Resources/console.html`, embedded in the binary.
    private static let template = String(decoding: PackageResources.console_html, as: UTF8.self)
}

//! Markdown typed by staff (a release's changelog) rendered to HTML that is safe to put
//! in a page: CommonMark with tables, strikethrough and task lists (pulldown-cmark), then
//! an allow-list sanitiser (ammonia) — no scripts, styles, images, frames, forms or event
//! attributes; links only to http, https and mailto, opened without the page's opener and
//! without a referrer. Raw HTML in the Markdown is passed to the sanitiser, which keeps
//! only the harmless tags, so `<b>` works and `<script>` disappears with its content.
use maud::{Markup, PreEscaped};
use std::collections::HashSet;
use std::sync::OnceLock;

/// The tags a changelog may use.
const TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "input",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
];

fn sanitiser() -> &'static ammonia::Builder<'static> {
    static CLEAN: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEAN.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        b.tags(TAGS.iter().copied().collect::<HashSet<_>>())
            .clean_content_tags(["script", "style"].into_iter().collect())
            .add_tag_attributes("a", ["href", "title"])
            .add_tag_attributes("abbr", ["title"])
            .add_tag_attributes("td", ["align"])
            .add_tag_attributes("th", ["align"])
            .add_tag_attributes("ol", ["start"])
            // Task-list boxes: shown, never a control of the page.
            .add_tag_attributes("input", ["checked"])
            .set_tag_attribute_value("input", "type", "checkbox")
            .set_tag_attribute_value("input", "disabled", "")
            .url_schemes(["http", "https", "mailto"].into_iter().collect())
            .url_relative(ammonia::UrlRelative::Deny)
            .link_rel(Some("noopener noreferrer nofollow"))
            .strip_comments(true);
        b
    })
}

/// `source` (Markdown) as sanitised HTML.
pub fn to_html(source: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut raw = String::with_capacity(source.len() * 3 / 2 + 16);
    html::push_html(&mut raw, Parser::new_ext(source, opts));
    sanitiser().clean(&raw).to_string()
}

/// `source` rendered for a page.
pub fn render(source: &str) -> Markup {
    PreEscaped(to_html(source))
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn formatting_survives() {
        let h = to_html(
            "# 2.1\n\n* **fast** start\n* `code` and ~~old~~\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        );
        assert!(h.contains("<h1>2.1</h1>"), "{h}");
        assert!(h.contains("<strong>fast</strong>"), "{h}");
        assert!(h.contains("<code>code</code>"), "{h}");
        assert!(h.contains("<del>old</del>"), "{h}");
        assert!(h.contains("<td>1</td>"), "{h}");
    }

    #[test]
    fn scripts_and_handlers_are_removed() {
        let h = to_html(
            "hi <script>alert(1)</script> <img src=x onerror=alert(2)> <b onclick=\"alert(3)\">b</b>\n\n<style>body{}</style><iframe src=\"https://e.x\"></iframe>",
        );
        for bad in [
            "script", "alert", "onerror", "onclick", "<img", "iframe", "style",
        ] {
            assert!(!h.contains(bad), "{bad} left in {h}");
        }
        assert!(h.contains("<b>b</b>"), "{h}");
    }

    #[test]
    fn only_web_and_mail_links_are_kept() {
        let h = to_html(
            "[a](javascript:alert(1)) [b](https://example.com/x) [c](data:text/html,x) [d](mailto:a@b.c) [e](JaVaScRiPt:alert(1)) <a href=\"vbscript:x\">f</a>",
        );
        assert!(!h.to_lowercase().contains("javascript"), "{h}");
        assert!(!h.contains("data:"), "{h}");
        assert!(!h.contains("vbscript"), "{h}");
        assert!(h.contains("href=\"https://example.com/x\""), "{h}");
        assert!(h.contains("href=\"mailto:a@b.c\""), "{h}");
        assert!(h.contains("rel=\"noopener noreferrer nofollow\""), "{h}");
    }

    #[test]
    fn task_lists_are_inert() {
        let h = to_html("- [x] done\n- [ ] todo\n");
        assert!(h.contains("disabled"), "{h}");
        assert!(h.contains("type=\"checkbox\""), "{h}");
        let typed = to_html("<input type=\"password\" name=\"csrf\" value=\"x\">");
        assert!(
            !typed.contains("password") && !typed.contains("name="),
            "{typed}"
        );
    }
}

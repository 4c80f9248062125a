//! Building the PromQL text: the default template, placeholders, escaping, and
//! splitting a very long pod list over several queries.

use std::time::Duration;

/// The query memhpa sends unless `-prom-query` replaces it.
///
/// - Per container, not per pod: a pod that lacks the series of a counted
///   container is then seen as *missing* instead of under-counted, and the
///   `container` option can pick one container.
/// - `container!=""` drops the pod-level cgroup series and `container!="POD"` the
///   pause container, which would otherwise count the pod twice.
/// - `avg_over_time` over `{window}` smooths one scrape's spike and bridges one
///   late scrape.
/// - `max by`, not `sum by`: after a container restart the old container's series
///   stays inside the window for a while beside the new one; adding them would
///   count the container twice. With one series per container both are the same.
pub const DEFAULT_QUERY_TEMPLATE: &str = "max by (namespace, pod, container) (avg_over_time(\
container_memory_working_set_bytes{namespace=\"{namespace}\",pod=~\"{pods}\",container!=\"\",container!=\"POD\"}[{window}]))";

/// Placeholder for the namespace, escaped for a double-quoted PromQL string.
pub const NAMESPACE_PLACEHOLDER: &str = "{namespace}";
/// Placeholder for the wanted pods as a regex alternation (`web-1|web-2`), regex
/// metacharacters escaped, then escaped for a double-quoted PromQL string. Use it
/// as `pod=~"{pods}"`; PromQL anchors regex matchers at both ends.
pub const PODS_PLACEHOLDER: &str = "{pods}";
/// Placeholder for the smoothing window as a PromQL duration (`1m`, `90s`).
pub const WINDOW_PLACEHOLDER: &str = "{window}";

/// Above this size of form body a namespace's pods are split over several
/// queries. Prometheus reads form bodies up to 10 MB, but a regex of tens of
/// thousands of alternatives is slow to compile; 200 KiB is over a thousand
/// pods with long names, far beyond one MemHpa namespace in practice.
pub const MAX_FORM_BODY: usize = 200 * 1024;

/// One query to send and the number of wanted pods it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedQuery {
    pub query: String,
    pub form_body: String,
}

/// The queries covering `pods` of `namespace`: one, unless its form body would
/// exceed `max_body` and the template has a `{pods}` to split.
pub fn plan(
    template: &str,
    namespace: &str,
    pods: &[String],
    window: Duration,
    max_body: usize,
) -> Vec<PlannedQuery> {
    let mut out = Vec::new();
    plan_into(
        template,
        namespace,
        pods,
        &window_text(window),
        max_body,
        &mut out,
    );
    out
}

fn plan_into(
    template: &str,
    namespace: &str,
    pods: &[String],
    window: &str,
    max_body: usize,
    out: &mut Vec<PlannedQuery>,
) {
    let query = render(template, namespace, pods, window);
    let form_body = format!("query={}", form_encode(&query));
    // Halving keeps every piece under the limit with few queries; a template
    // without {pods} would send the same text in every piece, so it never splits.
    if form_body.len() > max_body && pods.len() > 1 && template.contains(PODS_PLACEHOLDER) {
        let (left, right) = pods.split_at(pods.len() / 2);
        plan_into(template, namespace, left, window, max_body, out);
        plan_into(template, namespace, right, window, max_body, out);
    } else {
        out.push(PlannedQuery { query, form_body });
    }
}

/// Fills the placeholders in one left-to-right pass, so a value that happens to
/// contain `{pods}` is never expanded again. Other braces (label matchers) stay.
pub fn render(template: &str, namespace: &str, pods: &[String], window: &str) -> String {
    render_pattern(template, namespace, &pods_regex(pods), window)
}

/// [`render`] with `{pods}` given as a ready regex (already escaped for RE2,
/// not yet for the string): the replay matches pods by a name pattern when it
/// cannot list them, with the controller's template all the same.
pub fn render_pattern(template: &str, namespace: &str, pod_regex: &str, window: &str) -> String {
    let vars = [
        (NAMESPACE_PLACEHOLDER, promql_string(namespace)),
        (PODS_PLACEHOLDER, promql_string(pod_regex)),
        (WINDOW_PLACEHOLDER, window.to_string()),
    ];
    let mut out = String::with_capacity(template.len() + vars[1].1.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        match vars.iter().find(|(key, _)| tail.starts_with(key)) {
            Some((key, value)) => {
                out.push_str(value);
                rest = &tail[key.len()..];
            }
            None => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `a|b|c` with each name's regex metacharacters escaped (pod names may hold
/// dots, and nothing from outside is trusted to be a plain name).
pub fn pods_regex(pods: &[String]) -> String {
    let escaped: Vec<String> = pods.iter().map(|pod| regex_escape(pod)).collect();
    escaped.join("|")
}

/// Escapes the RE2 metacharacters so the text matches only itself.
pub fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes text for the inside of a double-quoted PromQL string (Go's escape
/// rules): backslash, quote, and every control character.
pub fn promql_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A PromQL duration: `1m`, `90s` or `1500ms`.
pub fn window_text(window: Duration) -> String {
    let millis = window.as_millis();
    if millis % 60_000 == 0 {
        format!("{}m", millis / 60_000)
    } else if millis % 1000 == 0 {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// `application/x-www-form-urlencoded` as browsers and Go's `url.QueryEscape` do.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_query_for_two_pods() {
        let query = render(
            DEFAULT_QUERY_TEMPLATE,
            "demo",
            &names(&["web-1", "web-2"]),
            "1m",
        );
        assert_eq!(
            query,
            "max by (namespace, pod, container) (avg_over_time(container_memory_working_set_bytes\
{namespace=\"demo\",pod=~\"web-1|web-2\",container!=\"\",container!=\"POD\"}[1m]))"
        );
    }

    #[test]
    fn regex_escape_dots_and_metacharacters() {
        assert_eq!(regex_escape("web.1"), "web\\.1");
        assert_eq!(regex_escape("a|b(c)*"), "a\\|b\\(c\\)\\*");
    }

    #[test]
    fn pod_names_are_escaped_for_regex_then_for_the_string() {
        let query = render("pod=~\"{pods}\"", "ns", &names(&["web.1", "x\"y"]), "1m");
        // web.1 -> web\.1 (regex) -> web\\.1 (string); x"y -> x\"y (string)
        assert_eq!(query, "pod=~\"web\\\\.1|x\\\"y\"");
    }

    #[test]
    fn namespace_quote_cannot_end_the_string() {
        let query = render(
            "{namespace=\"{namespace}\"}",
            "a\"} or vector(1) #",
            &[],
            "1m",
        );
        assert_eq!(query, "{namespace=\"a\\\"} or vector(1) #\"}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(promql_string("a\nb\u{7}\\"), "a\\nb\\u0007\\\\");
    }

    #[test]
    fn placeholders_in_values_are_not_expanded_again() {
        let query = render("{namespace} {pods}", "{pods}", &names(&["p"]), "1m");
        assert_eq!(query, "{pods} p");
    }

    #[test]
    fn label_matcher_braces_are_kept() {
        let query = render("up{job=\"x\"}[{window}] {unknown}", "ns", &[], "90s");
        assert_eq!(query, "up{job=\"x\"}[90s] {unknown}");
    }

    #[test]
    fn window_text_picks_the_largest_whole_unit() {
        assert_eq!(window_text(Duration::from_secs(60)), "1m");
        assert_eq!(window_text(Duration::from_secs(90)), "90s");
        assert_eq!(window_text(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn form_encode_like_go() {
        assert_eq!(form_encode("a b=\"c\"|{}~"), "a+b%3D%22c%22%7C%7B%7D%7E");
    }

    #[test]
    fn small_pod_list_is_one_query() {
        let planned = plan(
            DEFAULT_QUERY_TEMPLATE,
            "demo",
            &names(&["a", "b"]),
            Duration::from_secs(60),
            MAX_FORM_BODY,
        );
        assert_eq!(planned.len(), 1);
        assert!(
            planned[0]
                .form_body
                .starts_with("query=max+by+%28namespace"),
            "{}",
            planned[0].form_body
        );
    }

    #[test]
    fn long_pod_list_splits_under_the_limit_and_keeps_every_pod() {
        let pods: Vec<String> = (0..100)
            .map(|i| format!("pod-with-a-long-name-{i:03}"))
            .collect();
        let limit = 1200;
        let planned = plan(
            DEFAULT_QUERY_TEMPLATE,
            "demo",
            &pods,
            Duration::from_secs(60),
            limit,
        );
        assert!(planned.len() > 1, "expected a split");
        assert!(planned.iter().all(|p| p.form_body.len() <= limit));
        let covered: usize = planned
            .iter()
            .map(|p| p.query.matches("pod-with-a-long-name-").count())
            .sum();
        assert_eq!(covered, 100);
    }

    #[test]
    fn template_without_pods_never_splits() {
        let pods: Vec<String> = (0..100).map(|i| format!("pod-{i}")).collect();
        let long_template = format!("up{{namespace=\"{{namespace}}\"}} # {}", "x".repeat(500));
        let planned = plan(&long_template, "demo", &pods, Duration::from_secs(60), 100);
        assert_eq!(planned.len(), 1);
    }
}

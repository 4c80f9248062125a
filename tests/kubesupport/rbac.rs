//! RBAC as a manifest grants it: the rules of every ClusterRole and Role in
//! a YAML file (manifests/rbac.yaml), read with a line parser that knows
//! only that file's shape (`- apiGroups: [..]`, `resources: [..]`,
//! `verbs: [..]`, flow lists of quoted strings). Enforced, a request whose
//! verb on its `resource[/subresource]` in its group no rule grants gets the
//! real server's 403. Simplified: a Role's rules count in every namespace,
//! and `resourceNames` is ignored (it only narrows).

/// One rule: any of these groups, resources and verbs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

impl Rule {
    fn allows(&self, group: &str, resource: &str, verb: &str) -> bool {
        let any = |list: &[String], wanted: &str| list.iter().any(|x| x == wanted || x == "*");
        any(&self.groups, group) && any(&self.resources, resource) && any(&self.verbs, verb)
    }
}

/// The rules of `yaml`; an error names the line it cannot read.
pub fn parse(yaml: &str) -> Result<Vec<Rule>, String> {
    let mut rules: Vec<Rule> = Vec::new();
    for (number, line) in yaml.lines().enumerate() {
        let text = line.trim();
        let (is_new, text) = match text.strip_prefix("- ") {
            Some(rest) => (true, rest.trim()),
            None => (false, text),
        };
        let Some((key, value)) = text.split_once(':') else {
            continue;
        };
        let field = match key.trim() {
            "apiGroups" | "resources" | "verbs" | "resourceNames" => key.trim(),
            _ => continue,
        };
        if is_new && field == "apiGroups" {
            rules.push(Rule::default());
        }
        let list = flow_list(value).ok_or_else(|| format!("line {}: {line:?}", number + 1))?;
        let Some(rule) = rules.last_mut() else {
            return Err(format!("line {}: {field} before any apiGroups", number + 1));
        };
        match field {
            "apiGroups" => rule.groups = list,
            "resources" => rule.resources = list,
            "verbs" => rule.verbs = list,
            _ => {}
        }
    }
    Ok(rules)
}

/// `["a", "b"]` as its strings.
fn flow_list(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Some(s.strip_prefix('"')?.strip_suffix('"')?.to_string()))
        .collect()
}

/// Whether any of `rules` grants `verb` on `resource` (`plural` or
/// `plural/subresource`) in `group`.
pub fn allows(rules: &[Rule], group: &str, resource: &str, verb: &str) -> bool {
    rules.iter().any(|rule| rule.allows(group, resource, verb))
}

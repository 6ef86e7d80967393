//! Route matching as API Gateway HTTP API does it: an exact route beats a `{param}` route, a
//! greedy `{proxy+}` catches the rest, and the route key (`GET /items/{id}`) names the match.

use functions::router::routes;

use super::xray_sampling::TracingMode;

/// Which authorizer guards a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    Jwt,
    Iam,
}

/// Which function serves a route (one Lambda per binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Public,
    Items,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::Public => "public",
            Function::Items => "items",
        }
    }

    /// Its X-Ray mode: Terraform's (docs/cost.md, X-Ray).
    pub fn tracing(self) -> TracingMode {
        match self {
            Function::Public => TracingMode::PassThrough,
            Function::Items => TracingMode::Active,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// `METHOD /path/{param}`, as `$context.routeKey`.
    pub route_key: String,
    pub auth: Auth,
    pub function: Function,
    pub path_parameters: Vec<(String, String)>,
}

/// The twin's route table, built from the router's one table of routes.
pub struct RouteTable {
    routes: Vec<Route>,
}

struct Route {
    method: String,
    template: Vec<Segment>,
    auth: Auth,
    function: Function,
    /// `METHOD /template`, made once: every request that matches copies it.
    key: String,
    /// The template itself when it has no parameter: a path equal to it matches, with
    /// nothing to split or compare segment by segment.
    exact_path: Option<String>,
}

/// One `/`-separated part of a template, read once when the table is built.
enum Segment {
    Exact(String),
    /// `{name}`: one non-empty segment.
    Param(String),
    /// `{name+}`: the rest of the path.
    Greedy(String),
}

impl Segment {
    fn parse(segment: &str) -> Self {
        match segment.strip_prefix('{') {
            Some(inner) if inner.ends_with("+}") => Self::Greedy(inner[..inner.len() - 2].into()),
            Some(inner) if inner.ends_with('}') => Self::Param(inner[..inner.len() - 1].into()),
            _ => Self::Exact(segment.into()),
        }
    }
}

impl Route {
    fn new(method: &str, template: String, auth: Auth, function: Function) -> Self {
        let segments: Vec<Segment> = template
            .trim_start_matches('/')
            .split('/')
            .map(Segment::parse)
            .collect();
        let exact = segments.iter().all(|s| matches!(s, Segment::Exact(_)));
        Self {
            key: format!("{method} {template}"),
            method: method.to_owned(),
            template: segments,
            auth,
            function,
            exact_path: exact.then_some(template),
        }
    }

    fn matched(&self, path_parameters: Vec<(String, String)>) -> Matched {
        Matched {
            route_key: self.key.clone(),
            auth: self.auth,
            function: self.function,
            path_parameters,
        }
    }
}

impl Default for RouteTable {
    fn default() -> Self {
        let mut routes = Vec::new();
        for (method, path) in routes::PUBLIC {
            routes.push(Route::new(
                method,
                path.to_string(),
                Auth::None,
                Function::Public,
            ));
        }
        for (method, path) in routes::JWT {
            routes.push(Route::new(
                method,
                path.to_string(),
                Auth::Jwt,
                Function::Items,
            ));
        }
        let internal = format!("{}{{proxy+}}", routes::IAM_PREFIX);
        routes.push(Route::new("ANY", internal, Auth::Iam, Function::Items));
        Self { routes }
    }
}

/// How well a template matches: exact segments first, then parameters, then greedy.
fn match_template(template: &[Segment], path: &str) -> Option<(u8, Vec<(String, String)>)> {
    let mut params = Vec::new();
    let mut t = template.iter();
    let mut p = path.trim_start_matches('/').split('/');
    let mut rank = 0;
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some((rank, params)),
            (Some(Segment::Greedy(name)), Some(value)) => {
                let rest: Vec<&str> = std::iter::once(value).chain(p).collect();
                params.push((name.clone(), rest.join("/")));
                return Some((2, params));
            }
            (Some(Segment::Param(name)), Some(value)) => {
                if value.is_empty() {
                    return None;
                }
                params.push((name.clone(), value.to_owned()));
                rank = rank.max(1);
            }
            (Some(Segment::Exact(segment)), Some(value)) if segment == value => {}
            _ => return None,
        }
    }
}

impl RouteTable {
    /// The best route for a request, or `None` (API Gateway answers `404 Not Found`).
    pub fn find(&self, method: &str, path: &str) -> Option<Matched> {
        // A route without parameters for this very method and path: nothing ranks higher.
        if let Some(route) = self
            .routes
            .iter()
            .find(|r| r.method == method && r.exact_path.as_deref() == Some(path))
        {
            return Some(route.matched(Vec::new()));
        }
        self.routes
            .iter()
            .filter(|r| r.method == method || r.method == "ANY")
            .filter_map(|r| {
                let (rank, params) = match_template(&r.template, path)?;
                Some((rank, r.method != "ANY", r, params))
            })
            // Lowest rank (most specific) first; an exact method beats ANY.
            .min_by_key(|(rank, exact, ..)| (*rank, !*exact))
            .map(|(_, _, route, params)| route.matched(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_of_the_design() {
        let t = RouteTable::default();
        let m = t.find("GET", "/public").unwrap();
        assert_eq!(
            (m.route_key.as_str(), m.auth, m.function),
            ("GET /public", Auth::None, Function::Public)
        );
        assert_eq!(t.find("POST", "/items").unwrap().route_key, "POST /items");
        let m = t.find("GET", "/items/abc").unwrap();
        assert_eq!(m.route_key, "GET /items/{id}");
        assert_eq!(
            m.path_parameters,
            vec![("id".to_string(), "abc".to_string())]
        );
        let m = t.find("POST", "/internal/events/replay").unwrap();
        assert_eq!(
            (m.route_key.as_str(), m.auth),
            ("ANY /internal/{proxy+}", Auth::Iam)
        );
        assert_eq!(
            m.path_parameters,
            vec![("proxy".to_string(), "events/replay".to_string())]
        );
    }

    #[test]
    fn unknown_routes_and_methods_do_not_match() {
        let t = RouteTable::default();
        for (m, p) in [
            ("DELETE", "/items"),
            ("GET", "/items/a/b"),
            ("GET", "/nope"),
            ("POST", "/public"),
            ("GET", "/items/"),
        ] {
            assert_eq!(t.find(m, p), None, "{m} {p}");
        }
    }

    #[test]
    fn paths_equal_to_a_template_or_matching_it_segment_by_segment_agree() {
        let t = RouteTable::default();
        // Leading slashes are trimmed before segments are compared: such a path matches as
        // its plain form does.
        for path in [
            "/public",
            "//public",
            "/items",
            "//items",
            "/items/x",
            "/internal/a/b",
        ] {
            let plain = format!("/{}", path.trim_start_matches('/'));
            let method = if path.contains("internal") {
                "POST"
            } else {
                "GET"
            };
            assert_eq!(t.find(method, path), t.find(method, &plain), "{path}");
            assert!(t.find(method, path).is_some(), "{path}");
        }
        assert_eq!(t.find("GET", "/public/"), None);
    }
}

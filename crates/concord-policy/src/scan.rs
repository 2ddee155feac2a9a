//! Static checks over the parsed policies.
//!
//! regorus only reports a call to an unknown function when evaluation
//! reaches it ("could not find function ..."), so a typo in a rarely taken
//! branch would otherwise surface as a runtime error on some later request.
//! This module walks the parsed modules once at load and checks every call
//! against the functions the bundle defines and the builtins regorus
//! registers (`regorus::unstable::BUILTINS`). It also lists declared rules
//! and the `test_` rules of test packages.
//!
//! Everything here uses regorus's `unstable` AST; it is the only module that
//! does, so a regorus upgrade that changes the AST breaks the build here and
//! nowhere else. Unknown AST shapes are refused (fail closed).

use std::collections::{BTreeMap, BTreeSet};

use regorus::Value;
use regorus::unstable::{BUILTINS, Expr, Literal, Module, NodeRef, Query, Rule, RuleHead, Span};

use crate::error::PolicyError;

/// Builtins whose one call does work set by its argument *values* (a
/// million-number range from two small numbers), which regorus's timer
/// cannot interrupt. Every other builtin's work is bounded by the size of
/// its arguments, which the policy's input and data bound.
const UNBOUNDED_BUILTINS: &[&str] = &["numbers.range", "numbers.range_step"];

/// A parsed module as regorus hands it out.
pub(crate) type ModuleRef = NodeRef<Module>;

/// The dotted path of a static reference (`a.b["c"]` is `a.b.c`), or `None`
/// if it is not one.
fn path_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Var {
            value: Value::String(name),
            ..
        } => Some(name.to_string()),
        Expr::RefDot {
            refr,
            field: (_, Value::String(field)),
            ..
        } => Some(format!("{}.{field}", path_of(refr)?)),
        Expr::RefBrack { refr, index, .. } => match index.as_ref() {
            Expr::String {
                value: Value::String(field),
                ..
            } => Some(format!("{}.{field}", path_of(refr)?)),
            _ => None,
        },
        _ => None,
    }
}

/// The package of a module as `data.a.b`.
fn package_path(module: &Module) -> Option<String> {
    path_of(&module.package.refr).map(|path| format!("data.{path}"))
}

fn file_of(span: &Span) -> String {
    span.source.get_path().clone()
}

/// A module's imports with static targets: (the name it is used by, the
/// imported path), `import data.a.b as c` giving `("c", "data.a.b")`.
fn imports(module: &Module) -> impl Iterator<Item = (String, String)> + '_ {
    module.imports.iter().filter_map(|import| {
        let target = path_of(&import.refr)?;
        let alias = match &import.r#as {
            Some(span) => span.text().to_owned(),
            None => target.rsplit('.').next().unwrap_or_default().to_owned(),
        };
        Some((alias, target))
    })
}

/// The head reference of a rule and, for functions, its arguments.
fn rule_head(rule: &Rule) -> (&Expr, bool) {
    match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } => (refr, false),
            RuleHead::Func { refr, .. } => (refr, true),
        },
        Rule::Default { refr, args, .. } => (refr, !args.is_empty()),
    }
}

/// The first component of a rule head (`decision` for `decision.allow`).
fn rule_root(rule: &Rule) -> Option<String> {
    let (head, _) = rule_head(rule);
    let path = path_of(head)?;
    Some(path.split('.').next().unwrap_or_default().to_owned())
}

/// Every `data.<package>.<rule root>` declared by the modules.
pub(crate) fn declared_rules(modules: &[ModuleRef]) -> BTreeSet<String> {
    let mut rules = BTreeSet::new();
    for module in modules {
        let Some(package) = package_path(module) else {
            continue;
        };
        for rule in &module.policy {
            if let Some(root) = rule_root(rule) {
                rules.insert(format!("{package}.{root}"));
            }
        }
    }
    rules
}

/// A policy unit test: a complete rule named `test_*` in a test file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TestRule {
    /// Package without the `data.` prefix, e.g. `concord.ingest_test`.
    pub(crate) package: String,
    /// Rule name, e.g. `test_police_may_push_police`.
    pub(crate) name: String,
}

impl TestRule {
    pub(crate) fn rule_path(&self) -> String {
        format!("data.{}.{}", self.package, self.name)
    }
}

/// The `test_` rules of modules loaded from `*_test.rego` files, sorted and
/// without duplicates (a test may have several bodies).
pub(crate) fn test_rules(modules: &[ModuleRef]) -> Vec<TestRule> {
    let mut tests = BTreeSet::new();
    for module in modules {
        if !file_of(module.package.refr.span()).ends_with("_test.rego") {
            continue;
        }
        let Some(package) = path_of(&module.package.refr) else {
            continue;
        };
        for rule in &module.policy {
            let (head, is_function) = rule_head(rule);
            if is_function || !matches!(head, Expr::Var { .. }) {
                continue;
            }
            if let Some(name) = path_of(head).filter(|name| name.starts_with("test_")) {
                tests.insert(TestRule {
                    package: package.clone(),
                    name,
                });
            }
        }
    }
    tests.into_iter().collect()
}

/// What a module's calls are resolved against.
struct Scope<'a> {
    file: String,
    package: String,
    /// Import alias -> imported `data.` path.
    imports: BTreeMap<String, String>,
    /// Every function the bundle defines, as `data.<package>.<name>`.
    functions: &'a BTreeSet<String>,
}

/// Check every call in `modules`: each must name a function defined in the
/// modules, `print`, or a builtin regorus registers, called with its arity
/// (or arity + 1, the output-argument form).
pub(crate) fn check_calls(modules: &[ModuleRef]) -> Result<(), PolicyError> {
    let mut functions = BTreeSet::new();
    for module in modules {
        let Some(package) = package_path(module) else {
            continue;
        };
        for rule in &module.policy {
            let (head, is_function) = rule_head(rule);
            if let (true, Some(name)) = (is_function, path_of(head)) {
                functions.insert(format!("{package}.{name}"));
            }
        }
    }

    for module in modules {
        let file = file_of(module.package.refr.span());
        let package = package_path(module).ok_or_else(|| PolicyError::Parse {
            file: file.clone(),
            message: "package is not a static reference".to_owned(),
        })?;
        let imports: BTreeMap<String, String> = imports(module)
            .filter(|(_, target)| target.starts_with("data."))
            .collect();
        let scope = Scope {
            file,
            package,
            imports,
            functions: &functions,
        };
        for rule in &module.policy {
            walk_rule(rule, &mut |expr| scope.check(expr))?;
        }
    }
    Ok(())
}

impl Scope<'_> {
    fn error(&self, span: &Span, function: String, problem: String) -> PolicyError {
        PolicyError::UnsupportedCall {
            file: self.file.clone(),
            line: span.line,
            col: span.col,
            function,
            problem,
        }
    }

    fn check(&self, expr: &Expr) -> Result<(), PolicyError> {
        let Expr::Call {
            span, fcn, params, ..
        } = expr
        else {
            return Ok(());
        };
        let Some(written) = path_of(fcn) else {
            return Err(self.error(
                span,
                fcn.span().text().to_owned(),
                "the function is not a static name".to_owned(),
            ));
        };
        // Resolve a leading import alias, as the interpreter does.
        let name = match written.split_once('.') {
            Some((root, rest)) if root != "data" => match self.imports.get(root) {
                Some(target) => format!("{target}.{rest}"),
                None => written,
            },
            _ => written,
        };
        if name.starts_with("data.") {
            if self.functions.contains(&name) {
                return Ok(());
            }
            return Err(self.error(
                span,
                name,
                "no such function is defined in the bundle".to_owned(),
            ));
        }
        if name == "print" || self.functions.contains(&format!("{}.{name}", self.package)) {
            return Ok(());
        }
        if UNBOUNDED_BUILTINS.contains(&name.as_str()) {
            return Err(self.error(
                span,
                name,
                "one call can run for as long as its arguments ask (decisions are evaluated \
                 inline and regorus's timer only stops evaluation between steps); \
                 iterate over data instead"
                    .to_owned(),
            ));
        }
        match BUILTINS.get(name.as_str()) {
            Some(&(_, arity)) => {
                let arity = usize::from(arity);
                if params.len() == arity || params.len() == arity + 1 {
                    Ok(())
                } else {
                    Err(self.error(
                        span,
                        name,
                        format!(
                            "the builtin takes {arity} argument(s), called with {}",
                            params.len()
                        ),
                    ))
                }
            }
            None => Err(self.error(
                span,
                name,
                "not a builtin regorus supports, nor a function defined in the bundle".to_owned(),
            )),
        }
    }
}

type Visit<'v> = dyn FnMut(&Expr) -> Result<(), PolicyError> + 'v;

fn walk_rule(rule: &Rule, visit: &mut Visit<'_>) -> Result<(), PolicyError> {
    match rule {
        Rule::Spec { head, bodies, .. } => {
            match head {
                RuleHead::Compr { refr, assign, .. } => {
                    walk_expr(refr, visit)?;
                    if let Some(assign) = assign {
                        walk_expr(&assign.value, visit)?;
                    }
                }
                RuleHead::Set { refr, key, .. } => {
                    walk_expr(refr, visit)?;
                    if let Some(key) = key {
                        walk_expr(key, visit)?;
                    }
                }
                RuleHead::Func {
                    refr, args, assign, ..
                } => {
                    walk_expr(refr, visit)?;
                    for arg in args {
                        walk_expr(arg, visit)?;
                    }
                    if let Some(assign) = assign {
                        walk_expr(&assign.value, visit)?;
                    }
                }
            }
            for body in bodies {
                if let Some(assign) = &body.assign {
                    walk_expr(&assign.value, visit)?;
                }
                walk_query(&body.query, visit)?;
            }
        }
        Rule::Default {
            refr, args, value, ..
        } => {
            walk_expr(refr, visit)?;
            for arg in args {
                walk_expr(arg, visit)?;
            }
            walk_expr(value, visit)?;
        }
    }
    Ok(())
}

fn walk_query(query: &Query, visit: &mut Visit<'_>) -> Result<(), PolicyError> {
    for stmt in &query.stmts {
        match &stmt.literal {
            Literal::SomeVars { .. } => {}
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(key) = key {
                    walk_expr(key, visit)?;
                }
                walk_expr(value, visit)?;
                walk_expr(collection, visit)?;
            }
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => walk_expr(expr, visit)?,
            Literal::Every { domain, query, .. } => {
                walk_expr(domain, visit)?;
                walk_query(query, visit)?;
            }
        }
        for with in &stmt.with_mods {
            walk_expr(&with.refr, visit)?;
            walk_expr(&with.r#as, visit)?;
        }
    }
    Ok(())
}

fn walk_expr(expr: &Expr, visit: &mut Visit<'_>) -> Result<(), PolicyError> {
    visit(expr)?;
    match expr {
        Expr::String { .. }
        | Expr::RawString { .. }
        | Expr::Number { .. }
        | Expr::Bool { .. }
        | Expr::Null { .. }
        | Expr::Var { .. } => {}
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            for item in items {
                walk_expr(item, visit)?;
            }
        }
        Expr::Object { fields, .. } => {
            for (_, key, value) in fields {
                walk_expr(key, visit)?;
                walk_expr(value, visit)?;
            }
        }
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            walk_expr(term, visit)?;
            walk_query(query, visit)?;
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => {
            walk_expr(key, visit)?;
            walk_expr(value, visit)?;
            walk_query(query, visit)?;
        }
        Expr::Call { fcn, params, .. } => {
            walk_expr(fcn, visit)?;
            for param in params {
                walk_expr(param, visit)?;
            }
        }
        Expr::UnaryExpr { expr, .. } => walk_expr(expr, visit)?,
        Expr::RefDot { refr, .. } => walk_expr(refr, visit)?,
        Expr::RefBrack { refr, index, .. } => {
            walk_expr(refr, visit)?;
            walk_expr(index, visit)?;
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            walk_expr(lhs, visit)?;
            walk_expr(rhs, visit)?;
        }
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => {
            if let Some(key) = key {
                walk_expr(key, visit)?;
            }
            walk_expr(value, visit)?;
            walk_expr(collection, visit)?;
        }
        // Only reachable if a regorus feature adds expression kinds (e.g.
        // `rego-extensions`); refuse rather than skip what we cannot check.
        #[allow(unreachable_patterns)]
        other => {
            let span = other.span();
            return Err(PolicyError::Parse {
                file: file_of(span),
                message: format!(
                    "{}:{}: expression kind not supported by the policy checker",
                    span.line, span.col
                ),
            });
        }
    }
    Ok(())
}
